"""Tests for cancerllm.metrics: every quirk of the reference scorer pinned with hand-worked values."""

import json
import math

import pandas as pd
import pytest

from cancerllm.metrics import (
    CLINICAL_METRICS,
    METRICS,
    REFERENCE_METRICS,
    clinical_normalize,
    corpus_prf,
    normalize_and_stem,
    normalize_nostem,
    read_answers_jsonl,
    reference_prf,
    score_files,
    score_table,
)

S, T = 1e-9, 1e-15  # coco-caption: small (added to guesses / ref length), tiny (to correct / test length)
ALL = REFERENCE_METRICS + CLINICAL_METRICS


def approx(x):
    return pytest.approx(x, abs=1e-12)


def prf(p, r):
    return (p, r, 2 * p * r / (p + r))


# ------------------------------------------------------------------ normalisation
def test_normalize_nostem_deletes_punctuation_and_collapses_space():
    assert normalize_nostem("  2.5 ") == "25"
    assert normalize_nostem("ER-Positive,\t grade  2.") == "erpositive grade 2"


@pytest.mark.parametrize("raw, stemmed", [
    ("ER-positive", "erposit"),
    ("Invasive ductal carcinoma, grade 2", "invas ductal carcinoma grade 2"),
    ("as is", "as is"),          # tokens of <= 2 chars are not stemmed (Porter would make "as" -> "a")
    ("dying tumours", "die tumour"),  # NLTK_EXTENSIONS irregular form "dying" -> "die"
    ("oven racks", "oven rack"),
    ("the rays", "the ray"),     # the "leading article" rule never fires on single tokens
])
def test_normalize_and_stem(raw, stemmed):
    assert normalize_and_stem(raw) == stemmed


# ------------------------------------------------------------------ per-instance edge cases
@pytest.mark.parametrize("metric", ALL)
def test_edge_case_table(metric):
    assert reference_prf([], [], metric) == (1.0, 1.0, 1.0)
    assert reference_prf([], ["x"], metric) == (0.0, 1.0, 0.0)
    assert reference_prf(["x"], [], metric) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize("metric", REFERENCE_METRICS)
def test_emptiness_is_tested_after_punctuation_removal(metric):
    # "." and "!" both normalise to "" -> both empty -> match 1
    assert reference_prf(["."], ["!"], metric) == (1.0, 1.0, 1.0)
    # "-" -> "" against "x": one empty -> 0, and P + R == 0 -> (0, 0, 0)
    assert reference_prf(["-"], ["x"], metric) == (0.0, 0.0, 0.0)
    assert reference_prf([""], ["x"], metric) == (0.0, 0.0, 0.0)


def test_predictions_are_deduplicated_as_raw_strings():
    assert reference_prf(["a"], ["a", "a"], "exact_match") == (1.0, 1.0, 1.0)
    # ["lung", "lung", "x"] -> {"lung", "x"}: P = (1 + 0)/2 = 1/2, R = 1, F1 = 2(1/2)(1)/(3/2) = 2/3
    assert reference_prf(["lung"], ["lung", "lung", "x"], "exact_match") == approx((0.5, 1.0, 2 / 3))
    # "Lung" != "lung" as raw strings, so no dedup: P = (1 + 1 + 0)/3 = 2/3, R = 1, F1 = (4/3)/(5/3) = 4/5
    assert reference_prf(["lung"], ["lung", "Lung", "x"], "exact_match") == approx((2 / 3, 1.0, 0.8))


def test_only_first_gold_loses_space_dot():
    # gold[0] "2 .5" -> "25" matches "25": P = 1, R = (1 + 0)/2 = 1/2, F1 = 1/(3/2) = 2/3
    assert reference_prf(["2 .5", "x"], ["25"], "exact_match") == approx((1.0, 0.5, 2 / 3))
    # gold[1] keeps " ." -> normalises to "2 5" != "25"; gold[0] "x" != "25" -> (0, 0, 0)
    assert reference_prf(["x", "2 .5"], ["25"], "exact_match") == (0.0, 0.0, 0.0)


def test_inputs_are_not_mutated():
    gold, pred = ["2 .5"], ["25", "25"]
    reference_prf(gold, pred, "exact_match")
    assert gold == ["2 .5"] and pred == ["25", "25"]


def test_there_will_be_no_change_rule():
    # a single prediction starting (after lower().strip()) with the phrase becomes []
    assert reference_prf(["x"], ["  There will be NO change in size."], "exact_match") == (1.0, 0.0, 0.0)
    assert reference_prf([], ["there will be no change"], "exact_match") == (1.0, 1.0, 1.0)
    # two predictions: rule does not apply; P = (0 + 1)/2, R = 1, F1 = 2/3
    assert reference_prf(["x"], ["there will be no change", "x"], "exact_match") == approx((0.5, 1.0, 2 / 3))
    # the phrase must be a prefix
    assert reference_prf(["x"], ["maybe there will be no change"], "exact_match") == (0.0, 0.0, 0.0)


def test_exact_match_punctuation_quirks():
    assert reference_prf(["2.5"], ["25"], "exact_match") == (1.0, 1.0, 1.0)  # "." deleted
    assert reference_prf(["breast cancer"], ["cancer of breast"], "exact_match") == (0.0, 0.0, 0.0)
    assert METRICS["exact_match"]("ER-positive", "erpositive") == 1.0
    assert METRICS["exact_match"]("ER positive", "ER-positive") == 0.0  # "er posit" vs "erposit"


# ------------------------------------------------------------------ BLEU-2
def test_bleu2_single_token_exact_match_is_about_0_001():
    # "2.5" -> "25", one token. guess = [1, 0], correct = [1, 0]
    # p1 = (1 + 1e-15)/(1 + 1e-9) ~ 1;  p2 = (0 + 1e-15)/(0 + 1e-9) = 1e-6;  sqrt(p1*p2) ~ 1e-3
    # ratio = (1 + 1e-15)/(1 + 1e-9) < 1, so BP = exp(1 - 1/ratio) ~ exp(-1e-9)
    expected = math.sqrt((1 + T) / (1 + S) * (T / S)) * math.exp(1 - (1 + S) / (1 + T))
    value = METRICS["bleu2"]("2.5", "2.5")
    assert value == approx(expected)
    assert value == pytest.approx(0.001, abs=1e-11)  # 0.0009999999985
    assert reference_prf(["2.5"], ["25"], "bleu2") == approx((expected,) * 3)


def test_bleu2_two_token_exact_match_is_just_below_one():
    # p1 = (2 + 1e-15)/(2 + 1e-9), p2 = (1 + 1e-15)/(1 + 1e-9), BP = exp(1 - (2 + 1e-9)/(2 + 1e-15))
    # ~ (1 - 5e-10)(1 - 1e-9))^(1/2) * (1 - 5e-10) ~ 1 - 1.25e-9
    expected = math.sqrt((2 + T) / (2 + S) * (1 + T) / (1 + S)) * math.exp(1 - (2 + S) / (2 + T))
    value = METRICS["bleu2"]("breast cancer", "Breast cancer.")
    assert value == approx(expected)
    assert value == pytest.approx(1 - 1.25e-9, abs=1e-12)
    assert value < 1.0


def test_bleu2_brevity_penalty():
    # ref "invas ductal carcinoma" (3), cand "ductal carcinoma" (2): both n-grams correct
    # p1 = (2 + T)/(2 + S), p2 = (1 + T)/(1 + S); ratio = (2 + T)/(3 + S) ~ 2/3 -> BP = exp(1 - 3/2)
    expected = math.sqrt((2 + T) / (2 + S) * (1 + T) / (1 + S)) * math.exp(1 - (3 + S) / (2 + T))
    value = METRICS["bleu2"]("invasive ductal carcinoma", "ductal carcinoma")
    assert value == approx(expected)
    assert value == pytest.approx(math.exp(-0.5), abs=1e-8)  # 0.6065...
    # longer candidate: no BP; p1 = 2/3, p2 = 1/2 -> sqrt(1/3) = 0.57735
    longer = METRICS["bleu2"]("ductal carcinoma", "invasive ductal carcinoma")
    assert longer == approx(math.sqrt((2 + T) / (3 + S) * (1 + T) / (2 + S)))
    assert longer == pytest.approx(math.sqrt(1 / 3), abs=1e-8)


def test_bleu2_counts_clipped_bigrams():
    # ref "lung lung" vs cand "lung lung lung": unigram correct = min(3, 2) = 2 of 3,
    # bigram ("lung","lung") correct = min(2, 1) = 1 of 2, testlen 3 > reflen 2: no BP
    expected = math.sqrt((2 + T) / (3 + S) * (1 + T) / (2 + S))
    assert METRICS["bleu2"]("lung lung", "lung lung lung") == approx(expected)


def test_bleu2_stemmed_plural_like_openpi_test():
    # OpenPI's own test: "oven racks" vs "oven rack" scores ~1 after stemming
    assert reference_prf(["oven racks"], ["oven rack"], "bleu2")[2] == pytest.approx(1.0, abs=1e-8)


# ------------------------------------------------------------------ ROUGE variants
def test_rouge_l_reference_is_unigram_set_fbeta():
    # cand (prediction) {cancer, of, breast}, ref (gold) {breast, cancer}: overlap 2
    # P = 2/3, R = 2/2 = 1; F = (1 + 1.44)(2/3)(1)/(1 + 1.44 * 2/3) = (4.88/3)/1.96 = 122/147 = 0.8299
    value = reference_prf(["breast cancer"], ["cancer of breast"], "rouge_l_reference")
    assert value == approx((122 / 147,) * 3)
    # gold/pred swapped: P = 1, R = 2/3 -> 2.44(2/3)/(2/3 + 1.44) = 1.62667/2.10667 = 122/158
    assert METRICS["rouge_l_reference"]("cancer of breast", "breast cancer") == approx(122 / 158)


def test_rouge_l_is_lcs_and_differs_from_set_version():
    # LCS([breast, cancer], [cancer, of, breast]) = 1: P = 1/3, R = 1/2
    # F = 2.44(1/6)/(1/2 + 1.44/3) = 0.40667/0.98 = 61/147 = 0.41497
    assert METRICS["rouge_l"]("breast cancer", "cancer of breast") == approx(61 / 147)
    # order swapped: sets identical -> 1.0, but LCS = 1 of 2: P = R = 1/2 -> F = 1/2
    assert METRICS["rouge_l_reference"]("ductal carcinoma", "carcinoma ductal") == approx(1.0)
    assert METRICS["rouge_l"]("ductal carcinoma", "carcinoma ductal") == approx(0.5)
    # repeated tokens: sets {no} vs {no} -> 1; LCS = 1, P = 1/1, R = 1/2 -> 2.44(0.5)/(0.5 + 1.44) = 61/97
    assert METRICS["rouge_l_reference"]("no no", "no") == approx(1.0)
    assert METRICS["rouge_l"]("no no", "no") == approx(61 / 97)


def test_set_f1_uses_metric_values_as_soft_matches():
    # preds: "breast cancer" (exact, 1.0) and "cancer of breast" (122/147 vs gold 0)
    # gold: ["breast cancer", "lung"]; "lung" matches nothing
    # P = (1 + 122/147)/2, R = (1 + 0)/2 = 1/2
    p, r = (1 + 122 / 147) / 2, 0.5
    got = reference_prf(["breast cancer", "lung"], ["breast cancer", "cancer of breast"], "rouge_l_reference")
    assert got == approx(prf(p, r))


# ------------------------------------------------------------------ corpus macro average
def test_corpus_is_mean_of_instance_f1_not_f1_of_means():
    golds = [["a"], ["a", "b"]]
    preds = [["a", "b"], ["a"]]
    # instance 1: P = 1/2, R = 1, F1 = 2/3; instance 2: P = 1, R = 1/2, F1 = 2/3
    # mean P = 0.75, mean R = 0.75 -> F1 of means would be 75.0; mean of F1s = 66.67
    out = corpus_prf(golds, preds, "exact_match")
    assert out["precision"] == approx(75.0)
    assert out["recall"] == approx(75.0)
    assert out["f1"] == approx(200 / 3)
    assert set(out) == {"precision", "recall", "f1"}


def test_corpus_includes_edge_cases():
    # (1,1,1) + (1,0,0) + (0,1,0) -> P = 200/3, R = 200/3, F1 = 100/3
    out = corpus_prf([[], ["x"], []], [[], [], ["x"]], "bleu2")
    assert (out["precision"], out["recall"], out["f1"]) == approx((200 / 3, 200 / 3, 100 / 3))


def test_corpus_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match=r"2 .*3|3 .*2"):
        corpus_prf([["a"], ["b"]], [["a"], ["b"], ["c"]], "exact_match")


# ------------------------------------------------------------------ registry
def test_registry_contents():
    assert REFERENCE_METRICS == ["exact_match", "bleu2", "rouge_l_reference", "rouge_l"]
    assert CLINICAL_METRICS == ["clinical_exact_match", "clinical_bleu2",
                                "clinical_rouge_l_reference", "clinical_rouge_l"]
    assert list(METRICS) == REFERENCE_METRICS + CLINICAL_METRICS
    assert all(callable(f) for f in METRICS.values())


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError) as exc:
        reference_prf(["a"], ["a"], "bleu4")
    for name in ALL:
        assert name in str(exc.value)
    with pytest.raises(ValueError, match="bleu4"):
        corpus_prf([["a"]], [["a"]], "bleu4")


def test_strings_instead_of_lists_are_rejected():
    with pytest.raises(TypeError):
        reference_prf("lung", ["lung"], "exact_match")


def test_no_output_printed(capsys):
    reference_prf(["2.5"], ["2.5"], "bleu2")
    corpus_prf([["a"]], [["a"]], "rouge_l")
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------------------ clinical variant
@pytest.mark.parametrize("a, b", [
    ("2.5 cm", "25 mm"), ("2.5cm", "25 mm"), ("2.5 x 1.0 cm", "25 x 10 mm"), ("2-3 cm", "20 to 30 mm"),
    ("pT2", "T2"), ("ypT2", "cT2"), ("pN1a", "N1a"), ("ypT2N0", "T2 N0"),
    ("IDC", "invasive ductal carcinoma"), ("ILC", "Invasive lobular carcinoma"),
    ("DCIS", "ductal carcinoma in situ"), ("SCC", "squamous cell carcinoma"),
    ("RCC", "renal cell carcinoma"), ("HCC", "hepatocellular carcinoma"),
    ("NSCLC", "non-small cell lung carcinoma"), ("adenoca", "adenocarcinoma"),
    ("G2", "grade 2"), ("grade II", "moderately differentiated"), ("G3", "poorly differentiated"),
    ("ER+", "ER positive"), ("ER-positive", "estrogen receptor pos"), ("HER2-", "HER2 negative"),
    ("Not stated", "not mentioned"), ("not reported", "N/A"), ("Stage IIIB", "stage 3b"),
])
def test_clinical_equivalences(a, b):
    assert clinical_normalize(a) == clinical_normalize(b)
    assert METRICS["clinical_exact_match"](a, b) == 1.0


def test_clinical_fixes_reference_misses():
    assert METRICS["exact_match"]("2.5 cm", "25 mm") == 0.0          # "25 cm" vs "25 mm"
    assert METRICS["clinical_exact_match"]("2.5 cm", "25 mm") == 1.0
    assert METRICS["exact_match"]("pT2", "T2") == 0.0
    assert METRICS["clinical_exact_match"]("pT2", "T2") == 1.0
    assert METRICS["exact_match"]("IDC", "invasive ductal carcinoma") == 0.0
    assert reference_prf(["IDC"], ["invasive ductal carcinoma"], "clinical_exact_match") == (1.0, 1.0, 1.0)
    # and the decimal quirk goes away: "2.5" != "25" once "2.5" -> "2point5"
    assert METRICS["exact_match"]("2.5", "25") == 1.0
    assert METRICS["clinical_exact_match"]("2.5", "25") == 0.0


def test_clinical_forms_and_idempotence():
    cases = {
        "2.5 cm": "25 mm", "1.25 cm": "12point5 mm", "0.5 cm": "5 mm", "ypT2N0M0": "t2 n0 m0",
        "pN1a": "n1a", "ER+/PR+/HER2-": "er positive pr positive her2 negative",
        "Invasive ductal carcinoma, grade 2": "invasive ductal carcinoma grade 2",
        "Ki-67 20%": "ki67 20 percent", "Not mentioned in the text.": "not mentioned",
    }
    for raw, canon in cases.items():
        assert clinical_normalize(raw) == canon
        assert clinical_normalize(canon) == canon


def test_clinical_dedup_happens_after_normalization():
    # clinical: preds -> ["25 mm", "25 mm", "x"] -> dedup ["25 mm", "x"]: P = 1/2, R = 1, F1 = 2/3
    got = reference_prf(["25 mm"], ["2.5 cm", "25 mm", "x"], "clinical_exact_match")
    assert got == approx((0.5, 1.0, 2 / 3))
    # reference: three distinct preds, only "25 mm" matches: P = 1/3, R = 1, F1 = (2/3)/(4/3) = 1/2
    assert reference_prf(["25 mm"], ["2.5 cm", "25 mm", "x"], "exact_match") == approx((1 / 3, 1.0, 0.5))


def test_clinical_bleu_and_rouge_use_reference_arithmetic():
    # "IDC" -> "invasive ductal carcinoma" (3 tokens) matches gold exactly
    expected = math.sqrt((3 + T) / (3 + S) * (2 + T) / (2 + S)) * math.exp(1 - (3 + S) / (3 + T))
    assert METRICS["clinical_bleu2"]("invasive ductal carcinoma", "IDC") == approx(expected)
    assert METRICS["clinical_rouge_l"]("invasive ductal carcinoma", "IDC") == approx(1.0)
    assert METRICS["clinical_rouge_l_reference"]("breast cancer", "cancer of breast") == approx(122 / 147)


# ------------------------------------------------------------------ tables and files
def test_score_table_rows_and_columns():
    golds, preds = [["a"], ["a", "b"]], [["a", "b"], ["a"]]
    table = score_table(golds, preds)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ALL
    assert list(table.columns) == ["precision", "recall", "f1"]
    assert table.loc["exact_match", "f1"] == approx(200 / 3)
    sub = score_table(golds, preds, metrics=["rouge_l"])
    assert list(sub.index) == ["rouge_l"]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_answers_jsonl(tmp_path):
    f = _write(tmp_path / "g.jsonl", [json.dumps({"id": 0, "answers": ["a"]}), "",
                                       json.dumps({"id": "1", "answers": []})])
    assert read_answers_jsonl(f) == {"0": ["a"], "1": []}


def test_read_answers_jsonl_bad_json_names_file_and_line(tmp_path):
    f = _write(tmp_path / "bad.jsonl", [json.dumps({"id": 0, "answers": ["a"]}), "",
                                         '{"id": 2, "answers": ['])  # line 3
    with pytest.raises(ValueError, match=r"bad\.jsonl.*line 3"):
        read_answers_jsonl(f)


def test_read_answers_jsonl_missing_key_names_line(tmp_path):
    f = _write(tmp_path / "nokey.jsonl", [json.dumps({"id": 0, "answers": ["a"]}),
                                           json.dumps({"id": 1, "answer": ["a"]})])
    with pytest.raises(ValueError, match=r"nokey\.jsonl.*line 2.*answers"):
        read_answers_jsonl(f)


def test_score_files_aligns_by_id_and_scores_all_metrics(tmp_path):
    gold = _write(tmp_path / "gold.jsonl", [json.dumps({"id": "0", "answers": ["a"]}),
                                            json.dumps({"id": "1", "answers": ["a", "b"]})])
    pred = _write(tmp_path / "pred.jsonl", [json.dumps({"id": "1", "answers": ["a"]}),
                                            json.dumps({"id": "0", "answers": ["a", "b"]})])
    table = score_files(gold, pred)
    assert list(table.index) == ALL
    assert table.loc["exact_match", "precision"] == approx(75.0)
    assert table.loc["exact_match", "f1"] == approx(200 / 3)


def test_score_files_reports_missing_ids(tmp_path):
    gold = _write(tmp_path / "gold.jsonl", [json.dumps({"id": "0", "answers": ["a"]}),
                                            json.dumps({"id": "7", "answers": ["a"]})])
    pred = _write(tmp_path / "pred.jsonl", [json.dumps({"id": "0", "answers": ["a"]}),
                                            json.dumps({"id": "9", "answers": ["a"]})])
    with pytest.raises(ValueError, match=r"'7'.*'9'"):
        score_files(gold, pred)
