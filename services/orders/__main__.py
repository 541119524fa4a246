"""``python -m services.orders``: run the orders gRPC service."""

from services.orders.bootstrap import main

if __name__ == "__main__":
    main()
