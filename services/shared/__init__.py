"""Infrastructure shared by the orders, inventory and production services."""
