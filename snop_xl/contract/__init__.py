"""The workbook contract: every sheet, Excel table, column, type and owner of the S&OP workbook, and the charts drawn
from its tables. One place says what the workbook looks like; readers, writers, validation, template and docs derive
from it. `schema` holds the vocabulary (types, formats, Column/Table/Setting/Sheet), `tables` every table and
setting, `charts` what each chart shows. Import it as ``from snop_xl import contract as C``.
"""

from pathlib import Path

from snop_xl.contract.charts import CHARTS, KPI_CHARTS, ChartSpec  # noqa: F401
from snop_xl.contract.schema import *  # noqa: F401,F403
from snop_xl.contract.schema import SHEETS, column_letter, column_number, is_blank  # noqa: F401
from snop_xl.contract.tables import *  # noqa: F401,F403

#: The macro workbook every .xlsm cycle book starts from (built by `snop-xl build-template`, committed).
TEMPLATE = Path(__file__).resolve().parents[2] / "workbook" / "SNOP_Template.xlsm"
