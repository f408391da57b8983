"""How the model's tables look, in every engine's terms (plain names and colours, no engine objects): inputs blue,
outputs green, as the template's tabs."""

from __future__ import annotations

from snop_xl import contract as C

#: Excel's built-in table style of each role's tables
TABLE_STYLE = {C.Role.INPUT: "TableStyleMedium2", C.Role.OUTPUT: "TableStyleMedium4"}
#: header row fill (ARGB) and sheet tab colour (RGB) of each role
HEADER_FILL = {C.Role.INPUT: "FFDDEBF7", C.Role.OUTPUT: "FFE2EFDA"}
TAB_COLOR = {C.Role.INPUT: "4472C4", C.Role.OUTPUT: "70AD47"}
