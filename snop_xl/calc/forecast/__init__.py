"""Statistical demand forecasting: one long-frame API over batch numpy kernels.

`forecast(history, horizon)` is what the demand step, the SNOP_FORECAST worksheet function and outside tools call.
"""

from snop_xl.calc.forecast.api import METHODS, check_method, fit_matrix, forecast

__all__ = ["METHODS", "check_method", "fit_matrix", "forecast"]
