"""`cnndsl lsp`: a Language Server Protocol server showing shapes, errors and names as you type."""
