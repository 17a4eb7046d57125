"""HTTP views: thin layers that parse, call one service and render or serialise."""
