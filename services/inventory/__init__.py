"""Inventory: alloys, material lots, reservations, balances and the custody ledger."""
