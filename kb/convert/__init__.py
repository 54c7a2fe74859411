"""Documents in and out of other formats: Word and HTML to Markdown (``docx_in``, ``html_in``),
one document to Word or PDF for people outside (``export``).

Pure functions on bytes, without Flask, git or the index: the import and export use-cases
(``kb.services``) decide who may convert what, check the type of an imported file and store
the results through the write path.
"""
