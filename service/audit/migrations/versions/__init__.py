"""One module per schema revision of the audit store, oldest first by `down_revision`."""
