"""workbook/SNOP_Template.xlsm: reproducible build, macro-enabled package, ribbon wired to VBA and to macros/."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

import macros
import udfs.functions as F
from snop_xl import contract as C
from snop_xl.errors import ValidationError
from snop_xl.inputs import load_inputs
from snop_xl.io import OpenpyxlBook
from snop_xl.build.package import MACRO_WORKBOOK_TYPE, RIBBON_REL
from snop_xl.build.template import SOURCES, TEMPLATE, build_template


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "SNOP_Template.xlsm")


@pytest.fixture(scope="module")
def vba() -> dict[str, str]:
    from oletools.olevba import VBA_Parser

    parser = VBA_Parser(str(TEMPLATE))
    try:
        return {Path(name).stem: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def test_committed_template_equals_fresh_build(fresh: Path) -> None:
    assert fresh.read_bytes() == TEMPLATE.read_bytes(), (
        "workbook/SNOP_Template.xlsm is stale: run `snop-xl build-template` (also needed after an xlwings upgrade, "
        "whose VBA module the template embeds)")


def test_package_is_macro_enabled_with_2007_ribbon() -> None:
    with zipfile.ZipFile(TEMPLATE) as z:
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("_rels/.rels").decode()
        assert re.search(rf'PartName="/xl/workbook.xml" ContentType="{re.escape(MACRO_WORKBOOK_TYPE)}"', types)
        assert "xl/vbaProject.bin" in z.namelist()
        assert f'Type="{RIBBON_REL}" Target="customUI/customUI.xml"' in rels
        assert z.read("customUI/customUI.xml") == (SOURCES / "customUI.xml").read_bytes()
        assert {i.date_time for i in z.infolist()} == {(2026, 1, 1, 0, 0, 0)}


def test_every_ribbon_action_has_a_vba_sub(vba: dict[str, str]) -> None:
    ribbon = (SOURCES / "customUI.xml").read_text()
    assert 'xmlns="http://schemas.microsoft.com/office/2006/01/customui"' in ribbon
    actions = re.findall(r'onAction="(\w+)"', ribbon)
    assert len(actions) == 9  # 8 + Roll to next month
    code = "\n".join(vba.values())
    for action in actions:
        assert re.search(rf"Sub {action}\(control As IRibbonControl\)", code), action
    groups = re.findall(r'<group id="(\w+)"', ribbon)
    assert len(groups) == len(set(groups)) == 7  # inputs, steps 1-5, cycle


def test_vba_project_references_the_office_library() -> None:
    """`control As IRibbonControl` compiles only with the Office object library referenced: without it every ribbon
    button fails with 'User-defined type not defined'."""
    import olefile
    from oletools.olevba import decompress_stream

    with zipfile.ZipFile(TEMPLATE) as z:
        ole = olefile.OleFileIO(z.read("xl/vbaProject.bin"))
    try:
        directory = bytes(decompress_stream(bytearray(ole.openstream("VBA/dir").read())))
    finally:
        ole.close()
    assert b"{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}" in directory  # Microsoft Office xx.0 Object Library


def test_every_runpython_target_is_a_macro_entry_point(vba: dict[str, str]) -> None:
    targets = re.findall(r'RunPython "import macros; macros\.(\w+)\(\)"', "\n".join(vba.values()))
    assert targets and set(targets) == set(macros.ENTRY_POINTS)
    assert all(callable(macros.ENTRY_POINTS[t]) for t in targets)


def test_vba_project_holds_xlwings_and_generated_wrappers(vba: dict[str, str]) -> None:
    import xlwings

    assert {"xlwings", "Dictionary", "SnopRibbon", "SnopFunctions", "ThisWorkbook"} <= set(vba)
    assert f"'Version: {xlwings.__version__}" in vba["xlwings"]
    committed = (SOURCES / "vba" / "SnopFunctions.bas").read_text().replace("\r\n", "\n")
    body = committed.split("\n", 1)[1]  # VBA_Parser shows the module without its Attribute line
    assert body.strip() in vba["SnopFunctions"].replace("\r\n", "\n")
    assert "RegisterSnopFunctions" in vba["ThisWorkbook"]
    for text in vba.values():
        text.encode("ascii")


def test_opens_in_openpyxl_with_every_contract_table_and_settings() -> None:
    book = OpenpyxlBook(TEMPLATE)
    for spec in C.INPUT_TABLES + C.OUTPUT_TABLES:
        assert book.has_table(spec), spec.list_object
    settings, problems = book.read_table(C.SETTINGS_TABLE)
    assert not problems
    assert list(settings["setting"]) == [s.label for s in C.SETTINGS]
    assert list(settings["description"]) == [s.doc for s in C.SETTINGS]
    with pytest.raises(ValidationError) as err:  # a template: only the cycle month is left to the planner
        load_inputs(book)
    assert [p.message for p in err.value.problems] == ["Cycle month is not set"]
    conf = book.wb["xlwings.conf"]
    assert conf.sheet_state == "hidden"
    assert {conf.cell(r, 1).value: conf.cell(r, 2).value for r in range(1, 7)}["UDF Modules"] == "udfs.functions"


def test_inputs_have_drop_downs_and_styles_outputs_do_not() -> None:
    wb = load_workbook(TEMPLATE)
    lists = {str(dv.sqref): dv.formula1 for dv in wb["Inventory"].data_validations.dataValidation}
    column = C.INVENTORY.first_column + C.INVENTORY.keys.index("ss_policy")
    letter = chr(64 + column)
    assert lists[f"{letter}2:{letter}5000"] == '"service,fixed,cover"'
    settings = wb["Settings"]
    method_row = 2 + [s.key for s in C.SETTINGS].index("default_method")
    rules = {str(dv.sqref): dv for dv in settings.data_validations.dataValidation}
    assert rules[f"B{method_row}"].formula1 == '"' + ",".join(C.FORECAST_METHODS) + '"'
    assert settings[f"B{method_row}"].fill.fgColor.rgb == "FFFFF2CC"
    assert settings.freeze_panes == "A2" and wb["History"].freeze_panes == "B2"
    assert not wb["DemandPlan"].data_validations.dataValidation
    assert wb["Items"]["D2"].number_format == C.ITEMS.column("unit_price").number_format


def test_examples_use_every_function() -> None:
    ws = load_workbook(TEMPLATE)["Examples"]
    formulas = " ".join(str(getattr(c.value, "text", c.value)) for row in ws.iter_rows() for c in row
                        if c.data_type == "f")
    for func in F.FUNCTIONS:
        assert f"={func.__name__}(" in formulas, func.__name__


def test_headless_run_keeps_vba_and_ribbon(tmp_path: Path) -> None:
    copy = shutil.copy(TEMPLATE, tmp_path / "book.xlsm")
    book = OpenpyxlBook(copy)
    book.log("test", "saved headless")
    book.save()
    with zipfile.ZipFile(TEMPLATE) as a, zipfile.ZipFile(copy) as b:
        for part in ("xl/vbaProject.bin", "customUI/customUI.xml"):
            assert a.read(part) == b.read(part)
        assert RIBBON_REL in b.read("_rels/.rels").decode()
        assert MACRO_WORKBOOK_TYPE in b.read("[Content_Types].xml").decode()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_converts_the_template(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_sheets", SOURCES.parent / "scripts" / "render_sheets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    render = module.render
    pngs = render(TEMPLATE, ["Settings", "Examples"], tmp_path)
    assert [p.name for p in pngs] == ["Settings.png", "Examples.png"]
    assert all(p.stat().st_size > 5000 for p in pngs)
