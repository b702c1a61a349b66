"""The world: regions, commodities, processes, demands, trade edges and policy wedges of a year."""
