"""Tables: the built-in ones, CSV files and what is wrong with them, the split and the standardisation."""

import numpy as np
import pytest

from vaelab.bnn.config import TableConfig
from vaelab.bnn.data import load_table
from vaelab.errors import UsageError


@pytest.mark.parametrize("name,task,rows,features,classes", [
    ("diabetes", "regression", 442, 10, 0), ("wine", "classification", 178, 13, 3),
    ("breast-cancer", "classification", 569, 30, 2), ("digits", "classification", 1797, 64, 10),
])
def test_built_in_tables(name, task, rows, features, classes):
    data = load_table(TableConfig(spec=name))
    assert data.task == task and len(data.features) == features and len(data.classes) == classes
    assert sum(data.size(split) for split in ("train", "val", "test")) == rows
    assert data.size("test") == round(0.2 * rows) and data.size("val") == round(0.15 * rows)


def test_the_split_is_seeded_disjoint_and_standardised_on_the_training_rows():
    data, again = load_table(TableConfig(spec="diabetes")), load_table(TableConfig(spec="diabetes"))
    other = load_table(TableConfig(spec="diabetes", split_seed=1))
    assert np.array_equal(data.x["test"], again.x["test"]) and not np.array_equal(data.x["test"], other.x["test"])
    rows = {split: {tuple(row) for row in data.x[split]} for split in ("train", "val", "test")}
    assert not (rows["train"] & rows["val"] or rows["train"] & rows["test"] or rows["val"] & rows["test"])
    assert np.allclose(data.x["train"].mean(0), 0, atol=1e-5) and np.allclose(data.x["train"].std(0), 1, atol=1e-4)
    assert abs(data.y["train"].mean()) < 1e-5 and abs(data.y["train"].std() - 1) < 1e-4
    assert data.target_std == pytest.approx(77.0, abs=1.0)  # diabetes' progression score, its training std


def test_a_constant_column_stays_zero_instead_of_dividing_by_zero():
    data = load_table(TableConfig(spec="digits"))  # pixel_0_0 is 0 in every image
    assert np.all(np.isfinite(data.x["train"])) and np.all(data.x["train"][:, 0] == 0)


def _csv(tmp_path, text):
    path = tmp_path / "table.csv"
    path.write_text(text)
    return str(path)


def test_a_csv_regression_and_classification(tmp_path):
    rows = "\n".join(f"{i},{i % 3},{2 * i + 1},{'ab'[i % 2]}" for i in range(30))
    spec = _csv(tmp_path, "a,b,y,label\n" + rows + "\n")
    with pytest.raises(UsageError, match="column 'label' of .* is not numeric: row 1 \\(line 2\\) holds 'a'"):
        load_table(TableConfig(spec=spec, target="y"))  # a feature must be numbers, even when the target is
    regression = load_table(TableConfig(spec=_csv(tmp_path, "a,b,y\n" + "\n".join(
        f"{i},{i % 3},{2 * i + 1}" for i in range(30)) + "\n"), target="y"))
    assert regression.features == ["a", "b"] and regression.out_features == 1
    classification = load_table(TableConfig(spec=_csv(tmp_path, "a,b,label\n" + "\n".join(
        f"{i},{i % 3},{'ab'[i % 2]}" for i in range(30)) + "\n"), target="label", task="classification"))
    assert classification.classes == ["a", "b"] and classification.out_features == 2
    assert regression.task == "regression"


@pytest.mark.parametrize("text,target,task,message", [
    ("a,b\n1,2\n", "y", None, "--target 'y' is not a column of .*: its columns are a, b"),
    ("a,y\n1,2\nx,3\n", "y", None, "column 'a' of .* is not numeric: row 2 \\(line 3\\) holds 'x'"),
    ("a,y\n1,2\n,3\n", "y", None, "row 2 \\(line 3\\), column 'a' is empty"),
    ("a,y\n1,2\nnan,3\n", "y", None, "row 2 \\(line 3\\), column 'a' is NaN"),
    ("a,y\n1,2\n2,NaN\n", "y", None, "row 2 \\(line 3\\), column 'y' is NaN"),
    ("a,y\n1,2\n2\n", "y", None, "row 2 \\(line 3\\) has 1 cells but the header has 2"),
    ("a,y\n1,z\n", "y", None, "column 'y' of .* is not numeric: row 1 \\(line 2\\) holds 'z'"),
    ("a,y\n" + "1,c\n" * 20, "y", "classification", "holds one class only \\('c'\\)"),
    ("", "y", None, "is empty"),
    ("a,y\n1,2\n2,3\n", "y", None, "3 rows|2 rows: too few"),
])
def test_bad_tables_are_named_in_one_line(tmp_path, text, target, task, message):
    with pytest.raises(UsageError, match=message) as error:
        load_table(TableConfig(spec=_csv(tmp_path, text), target=target, task=task))
    assert "\n" not in str(error.value)


def test_a_missing_file_and_an_unknown_table(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_table(TableConfig(spec=str(tmp_path / "absent.csv"), target="y"))
    with pytest.raises(UsageError, match="--data 'iris' is unknown"):
        TableConfig(spec="iris").validate()
    with pytest.raises(UsageError, match="is a regression table: drop --task classification"):
        load_table(TableConfig(spec="diabetes", task="classification"))
