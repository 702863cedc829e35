"""The modelstudio code generator: spec/ -> generated/<binding>/.

`core/` is language-neutral (spec loading with `file:line` problems, the IR, the files it
writes); each other subpackage is one binding's back end, found by `bindings()`. The core imports
no back end; a back end imports the core and nothing of another back end.
"""
