"""Use-cases that combine the git store, the derived catalog and index, and the audit log,
so routes and the command line stay thin."""
