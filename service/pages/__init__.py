"""The caseworker page: server-rendered HTML over the same service layer as the API."""
