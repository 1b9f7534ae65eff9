"""Delivery channels: each turns an alert into its own kind of message and hands it to its own
provider (email to an SMTP server today; web push, FCM, SMS and letters later)."""
