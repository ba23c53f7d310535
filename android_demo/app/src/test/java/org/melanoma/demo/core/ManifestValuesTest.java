package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/**
 * The values a manifest may hold: valid JSON, finite numbers, and the ranges Python's reader
 * (melanoma.manifest) allows. ManifestParserTest covers the fields and settings.
 */
public class ManifestValuesTest {
    @Test
    public void malformedJsonIsAClearError() {
        ManifestParserTest.refused(SampleManifest.JSON.substring(0, 200), "manifest is not valid JSON: ");
        ManifestParserTest.refused("", "manifest is not valid JSON: ");
        ManifestParserTest.refused("[]", "manifest: expected a JSON object");
        ManifestParserTest.refused(SampleManifest.with("\"max_abs_diff\": 0.031", "\"max_abs_diff\": NaN"),
                "manifest is not valid JSON: ");
    }

    /**
     * 1e400 is valid JSON that overflows to Infinity, in Java and in Python's json alike; the
     * app took it as a max_abs_diff, tolerance, decision_agreement or [min, max] range, which
     * melanoma-bench refuses. Each is refused with Python's message (ExportedManifestTest checks
     * that against Python's own, tests/android/conftest.py's huge_*.json).
     */
    @Test
    public void aNumberPastADoublesRangeIsRefusedAsInPython() {
        String f = ": expected a finite number, got ";
        ManifestParserTest.refused(SampleManifest.with("\"max_abs_diff\": 0.031", "\"max_abs_diff\": 1e400"),
                "manifest.verification.max_abs_diff" + f + "Infinity");
        ManifestParserTest.refused(SampleManifest.with("\"tolerance\": null", "\"tolerance\": -1e400"),
                "manifest.verification.tolerance" + f + "-Infinity");
        ManifestParserTest.refused(SampleManifest.with("\"decision_agreement\": 0.985",
                        "\"decision_agreement\": 1E+400"),
                "manifest.verification.decision_agreement" + f + "Infinity");
        ManifestParserTest.refused(SampleManifest.with("[-4.9, 2.2]", "[-1e400, 2.2]"),
                "manifest.input.value_range[0]" + f + "-Infinity");
        ManifestParserTest.refused(SampleManifest.v4With("[-6.0, 6.86]", "[-6.0, 1e400]"),
                "manifest.quantization.logit_range[1]" + f + "Infinity");
        ManifestParserTest.refused(SampleManifest.with("\"probability\": 0.4817", "\"probability\": 1e400"),
                "manifest.thresholds[0].probability" + f + "Infinity");
        ManifestParserTest.refused(SampleManifest.with("[0.742,", "[1e400,"),
                "manifest.preprocessing.mean[0]" + f + "Infinity");
        ManifestParserTest.refused(SampleManifest.with("\"size\": 32,", "\"size\": 1e400,"),
                "manifest.preprocessing.size: expected an integer, got Infinity");
    }

    /** The ends of Python's ranges: [0, 1] for a threshold, min <= max, low < high. */
    @Test
    public void rangesEndWhereTheyEndInPython() throws Exception {
        ManifestParserTest.refused(SampleManifest.with("\"probability\": 0.4817", "\"probability\": -0.1"),
                "manifest.thresholds[0].probability: expected a number in [0, 1], got -0.1");
        assertEquals(0.0, ManifestParser.parse(SampleManifest.with("\"probability\": 0.4817",
                "\"probability\": 0")).thresholds.get(0).probability, 0.0);
        assertEquals(1.0, ManifestParser.parse(SampleManifest.with("\"probability\": 0.4817",
                "\"probability\": 1")).thresholds.get(0).probability, 0.0);
        String flat = SampleManifest.with("[-4.9, 2.2]", "[2.2, 2.2]");
        assertEquals(2.2, ManifestParser.parse(flat).input.valueRange[0], 0.0);
        ManifestParserTest.refused(SampleManifest.v4With("[-4.73, 2.95]", "[2.95, 2.95]"),
                "manifest.quantization.input_range: expected [low, high] or null");
    }

    @Test
    public void anEmptyThresholdListIsRefused() {
        int start = SampleManifest.JSON.indexOf("\"thresholds\": [");
        int end = SampleManifest.JSON.indexOf("  ],", start);
        String json = SampleManifest.JSON.substring(0, start) + "\"thresholds\": [\n"
                + SampleManifest.JSON.substring(end);
        ManifestParserTest.refused(json, "manifest.thresholds is empty");
    }

    /**
     * melanoma.manifest._RULES refuses these values; the app must too (android_demo/README.md:
     * "every manifest Python rejects is rejected"). Found by a differential run of Python's
     * manifest_from_dict and ManifestParser.parse over single-value edits of an exported manifest.
     */
    @Test
    public void valuesPythonsRulesRefuseAreRefused() {
        ManifestParserTest.refused(SampleManifest.with("\"val_sensitivity\": 0.81", "\"val_sensitivity\": 1.5"),
                "manifest.thresholds[0].val_sensitivity: expected a number in [0, 1], got 1.5");
        ManifestParserTest.refused(SampleManifest.with("\"val_specificity\": 0.62", "\"val_specificity\": -0.5"),
                "manifest.thresholds[1].val_specificity: expected a number in [0, 1], got -0.5");
        String range = "\"value_range\": [-4.9, 2.2]";
        ManifestParserTest.refused(SampleManifest.with(range, "\"value_range\": [2.2, -4.9]"),
                "manifest.input.value_range: expected [min, max], got [2.2, -4.9]");
        ManifestParserTest.refused(SampleManifest.with(range, "\"value_range\": [-4.9]"),
                "manifest.input.value_range: expected [min, max], got [-4.9]");
        ManifestParserTest.refused(SampleManifest.with("\"size_bytes\": 4096", "\"size_bytes\": -1"),
                "manifest.file.size_bytes: expected a size >= 0, got -1");
        ManifestParserTest.refused(SampleManifest.with("\"name\": \"cnn-executorch-int8.pte\"",
                "\"name\": \"sub\\\\cnn.pte\""),
                "manifest.file.name 'sub\\cnn.pte' must be a plain file name");
    }
}
