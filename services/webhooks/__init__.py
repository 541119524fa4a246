"""The webhooks service: partners' endpoints and the signed, retried deliveries of their events."""
