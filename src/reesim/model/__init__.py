"""Mathematics of one market year: the spatial price equilibrium as a sparse QP."""
