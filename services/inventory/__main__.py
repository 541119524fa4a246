"""``python -m services.inventory``: serve the inventory gRPC API."""

from services.inventory.bootstrap import main

if __name__ == "__main__":
    main()
