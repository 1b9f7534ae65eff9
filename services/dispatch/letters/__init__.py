"""Address-verification letters identity asks dispatch to post."""
