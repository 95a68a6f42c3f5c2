"""Optax transformations that optax does not ship (WAX-ML's ``wax.optim``): the online Newton step."""

from waxegg.wax.optim.newton import ScaleByNewtonState, newton, scale_by_newton, sherman_morrison, sherman_morrison_update

__all__ = ["ScaleByNewtonState", "newton", "scale_by_newton", "sherman_morrison", "sherman_morrison_update"]
