"""The report: figures (:mod:`~waxegg.report.figures`), the page (:mod:`~waxegg.report.page`), the
artefacts measured beside the sweep (:mod:`~waxegg.report.profiles`) and ``waxegg repro``
(:mod:`~waxegg.report.repro`)."""
