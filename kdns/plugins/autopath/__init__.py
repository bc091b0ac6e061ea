"""autopath: server-side search-path completion, cutting the ndots:5 query storm."""
