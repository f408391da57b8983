Attribute VB_Name = "SnopRibbon"
' S&OP ribbon callbacks (workbook/customUI.xml). Each runs one entry point of the Python package `macros`
' over this workbook through xlwings' RunPython; the Python side reports progress on the status bar and
' shows errors in a message box and on the Log sheet.
Option Explicit

Public Sub SnopValidate(control As IRibbonControl)
    RunPython "import macros; macros.validate()"
End Sub

Public Sub SnopImportBudget(control As IRibbonControl)
    RunPython "import macros; macros.import_budget()"
End Sub

Public Sub SnopForecastDemand(control As IRibbonControl)
    RunPython "import macros; macros.forecast_demand()"
End Sub

Public Sub SnopPlanSupply(control As IRibbonControl)
    RunPython "import macros; macros.plan_supply()"
End Sub

Public Sub SnopReconcile(control As IRibbonControl)
    RunPython "import macros; macros.reconcile()"
End Sub

Public Sub SnopReview(control As IRibbonControl)
    RunPython "import macros; macros.review()"
End Sub

Public Sub SnopPublish(control As IRibbonControl)
    RunPython "import macros; macros.publish()"
End Sub

Public Sub SnopRunAll(control As IRibbonControl)
    RunPython "import macros; macros.run_all()"
End Sub

Public Sub SnopRoll(control As IRibbonControl)
    RunPython "import macros; macros.roll()"
End Sub
