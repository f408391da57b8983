REM snop-xl: the SNOP_* worksheet functions in LibreOffice Calc, to check the numbers without Excel.
REM Each SNOP_* function below hands its arguments to snop_bridge.py (Python script provider), which calls the
REM same udfs.functions code that xlwings calls in Excel. Array answers come back as a matrix, so array formulas
REM work. A missing optional argument is passed as SNOP_MISSING: Python then uses the function's default.
REM The SNOP_* wrappers are generated from the @xw.arg declarations by scripts/libreoffice_bridge/profile.py.
Option Explicit

Const SNOP_MISSING = "<snop-xl:missing>"
Const SNOP_SCRIPT = "vnd.sun.star.script:snop_bridge.py$snop_call?language=Python&location=user"
Private oSnopScript As Object

Function SnopCall(sName As String, aArgs As Variant) As Variant
    Dim oFactory As Object, oProvider As Object, aOutIdx(), aOut(), vResult As Variant
    On Error GoTo Failed
    If IsNull(oSnopScript) Then
        oFactory = createUnoService("com.sun.star.script.provider.MasterScriptProviderFactory")
        oProvider = oFactory.createScriptProvider("")
        oSnopScript = oProvider.getScript(SNOP_SCRIPT)
    End If
    vResult = oSnopScript.invoke(Array(sName, aArgs), aOutIdx, aOut)
    If IsArray(vResult) Then
        SnopCall = SnopMatrix(vResult)
    Else
        SnopCall = vResult
    End If
    Exit Function
Failed:
    SnopCall = "#SNOP! " & sName & ": the LibreOffice bridge failed: " & Error$
End Function

REM Rows (an array of arrays, as Python's tuple of tuples arrives) as a two-dimensional array, which Calc
REM lays out over the cells of an array formula.
Function SnopMatrix(vRows As Variant) As Variant
    Dim nRows As Long, nCols As Long, i As Long, j As Long, vRow As Variant, aGrid()
    nRows = UBound(vRows) - LBound(vRows) + 1
    nCols = 1
    For i = 0 To nRows - 1
        vRow = vRows(LBound(vRows) + i)
        If UBound(vRow) - LBound(vRow) + 1 > nCols Then nCols = UBound(vRow) - LBound(vRow) + 1
    Next i
    ReDim aGrid(0 To nRows - 1, 0 To nCols - 1)
    For i = 0 To nRows - 1
        vRow = vRows(LBound(vRows) + i)
        For j = 0 To UBound(vRow) - LBound(vRow)
            aGrid(i, j) = vRow(LBound(vRow) + j)
        Next j
    Next i
    SnopMatrix = aGrid
End Function
