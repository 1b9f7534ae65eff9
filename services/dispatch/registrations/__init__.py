"""Members register a UK mobile number (confirmed by an SMS code) and app installations."""
