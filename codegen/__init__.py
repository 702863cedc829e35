"""The modelstudio code generator: spec/ -> generated/modelstudio."""
