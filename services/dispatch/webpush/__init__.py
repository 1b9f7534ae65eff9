"""Members' web push subscriptions: the VAPID public key browsers subscribe with, and the
subscription each member's browser registers."""
