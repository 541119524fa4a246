"""``mesctl``: a command line for the Jewelry MES services, built on :mod:`clients`."""
