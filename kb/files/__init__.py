"""Files attached to documents, without Flask, git or SQL: what a name may be (``names``), what
the bytes are and how a browser may be given them (``types``), and their text for the index,
extracted in a bounded child process (``extract``)."""
