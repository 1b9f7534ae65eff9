"""Members' replies and photos deleted past their retention."""
