"""A member's lifecycle as geo sees it: erasure and suspension."""
