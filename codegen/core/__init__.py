"""The language-neutral core: YAML with line numbers -> problems or the IR; file output."""
