"""WAX-ML's ``wax.predicate``: parameter predicates for :class:`~waxegg.wax.modules.UpdateParams`."""

from waxegg.wax.modules.update_params import pass_all_predicate

__all__ = ["pass_all_predicate"]
