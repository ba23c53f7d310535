package org.melanoma.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

public class ManifestParserTest {
    @Test
    public void parsesAValidManifest() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.JSON);
        assertEquals(1, m.schemaVersion);
        assertEquals("cnn", m.modelName);
        assertEquals("cnn-executorch-int8.pte", m.file.name);
        assertEquals(4096L, m.file.sizeBytes);
        assertEquals(32, m.preprocessing.size);
        assertArrayEquals(new double[] {0.742, 0.532, 0.556}, m.preprocessing.mean(), 0.0);
        assertEquals(1.0 / 255.0, m.preprocessing.scale, 0.0);
        assertEquals("youden", m.thresholds.get(0).name); // manifest order is kept
        assertEquals(0.2634, m.thresholds.get(1).probability, 0.0);
        assertEquals(0.81, m.thresholds.get(0).valSensitivity, 0.0); // each rate from its key
        assertEquals(0.79, m.thresholds.get(0).valSpecificity, 0.0);
        assertNull(m.verification.tolerance);
        assertEquals(Double.valueOf(0.031), m.verification.maxAbsDiff);
        assertEquals("1.5.1", m.versions.get("executorch"));
        assertEquals(Long.valueOf(11), m.targetInfo.get("delegated_ops"));
        assertNull(m.preprocessing.exifOrientation); // version 1 does not say
        assertNull(m.preprocessing.alpha);
        assertNull(m.verification.floatDecisionAgreement);
    }

    @Test
    public void parsesAVersion2Manifest() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.V2);
        assertEquals(2, m.schemaVersion);
        assertEquals("applied", m.preprocessing.exifOrientation);
        assertEquals("composite_on_white", m.preprocessing.alpha);
        assertEquals(Double.valueOf(0.97), m.verification.floatDecisionAgreement);
        assertEquals(Double.valueOf(0.985), m.verification.decisionAgreement);
        assertEquals(Long.valueOf(128), m.input.maxBatch);
        String none = SampleManifest.v2With("\"float_decision_agreement\": 0.97",
                "\"float_decision_agreement\": null"); // spec-only: nothing ran
        assertNull(ManifestParser.parse(none).verification.floatDecisionAgreement);
        refused(SampleManifest.v2With("\"float_decision_agreement\": 0.97",
                        "\"float_decision_agreement\": 1.5"),
                "manifest.verification.float_decision_agreement: expected a number in [0, 1] or"
                        + " null, got 1.5");
    }

    @Test
    public void parsesAVersion3Manifest() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.V3);
        assertEquals(3, m.schemaVersion);
        assertEquals("convert_to_srgb", m.preprocessing.colorProfile);
        assertEquals("composite_on_white", m.preprocessing.alpha);
        assertNull(ManifestParser.parse(SampleManifest.V2).preprocessing.colorProfile);
        refused(SampleManifest.v3With("    \"color_profile\": \"convert_to_srgb\",\n", ""),
                "manifest.preprocessing: missing field(s) color_profile");
        refused(SampleManifest.v2With("    \"color\": \"RGB\",",
                        "    \"color\": \"RGB\",\n    \"color_profile\": \"convert_to_srgb\","),
                "manifest.preprocessing: unknown field(s) color_profile");
        refused(SampleManifest.v3With("\"convert_to_srgb\"", "\"as_stored\""),
                "manifest.preprocessing.color_profile 'as_stored' is not supported");
    }

    @Test
    public void parsesAVersion4Manifest() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.V4);
        assertEquals(4, m.schemaVersion);
        assertArrayEquals(new double[] {-4.73, 2.95}, m.quantization.inputRange, 0);
        assertArrayEquals(new double[] {-6.0, 6.86}, m.quantization.logitRange, 0);
        assertEquals("sensitivity_0.90", m.decisionThresholdName());
        assertEquals("youden", ManifestParser.parse(SampleManifest.V3).decisionThresholdName());
        refused(SampleManifest.v4With("  \"default_threshold\": \"sensitivity_0.90\",\n", ""),
                "manifest: missing field(s) default_threshold");
        refused(SampleManifest.v3With("  \"file\": {",
                        "  \"default_threshold\": \"youden\",\n  \"file\": {"),
                "manifest: unknown field(s) default_threshold");
        refused(SampleManifest.v4With("\"default_threshold\": \"sensitivity_0.90\"",
                        "\"default_threshold\": \"sensitivity_0.95\""),
                "manifest.default_threshold: 'sensitivity_0.95' is not one of the thresholds "
                        + "(youden, sensitivity_0.90)");
        assertNull(ManifestParser.parse(SampleManifest.V3).quantization.inputRange);
        String fp32 = SampleManifest.v4With("\"input_range\": [-4.73, 2.95]",
                "\"input_range\": null").replace("[-6.0, 6.86]", "null")
                .replace("\"precision\": \"int8\"", "\"precision\": \"fp32\"");
        assertNull(ManifestParser.parse(fp32).quantization.logitRange);
        refused(SampleManifest.v4With("[-6.0, 6.86]", "null"),
                "manifest.quantization: input_range and logit_range must both be set for int8"
                        + " and both null otherwise (precision 'int8')");
        refused(SampleManifest.v4With("    \"logit_range\": [-6.0, 6.86],\n", ""),
                "manifest.quantization: missing field(s) logit_range");
        refused(SampleManifest.v3With("    \"per_channel\": true,",
                        "    \"input_range\": null,\n    \"per_channel\": true,"),
                "manifest.quantization: unknown field(s) input_range");
        refused(SampleManifest.v4With("[-4.73, 2.95]", "[2.95, -4.73]"),
                "manifest.quantization.input_range: expected [low, high] or null, got "
                        + "[2.95, -4.73]");
    }

    @Test
    public void parsesAVersion6ManifestWithTheWeightsTerms() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.V6_LICENSED);
        assertEquals(6, m.schemaVersion);
        assertEquals("CC-BY-NC-4.0", m.license);
        assertEquals("Trained on HAM10000; non-commercial use only", m.attribution);
        assertEquals(java.util.Arrays.asList("decode", "crop"), m.preprocessing.steps);
        Manifest v5 = ManifestParser.parse(SampleManifest.V5);
        assertNull(v5.license); // version 5 does not say
        assertNull(v5.attribution);
        assertEquals("Licence: CC-BY-NC-4.0. Trained on HAM10000; non-commercial use only",
                m.termsLine());
        assertEquals("Licence: not stated (manifest before version 6)", v5.termsLine());
        String unstated = SampleManifest.V6_LICENSED.replace("\"CC-BY-NC-4.0\"", "\"not stated\"")
                .replace("\"Trained on HAM10000; non-commercial use only\"", "null");
        Manifest notStated = ManifestParser.parse(unstated);
        assertEquals("not stated", notStated.license);
        assertNull(notStated.attribution);
        assertEquals("Licence: not stated", notStated.termsLine());
        refused(SampleManifest.V6, "manifest: missing field(s) license");
        refused(SampleManifest.V6_LICENSED.replace("\"CC-BY-NC-4.0\"", "null"),
                "manifest.license: expected a string, got null");
        refused(SampleManifest.V6_LICENSED.replace("\"CC-BY-NC-4.0\"", "\" \""),
                "manifest.license: expected a non-empty string, got \" \"");
        refused(SampleManifest.V6_LICENSED.replace("  \"attribution\": \"Trained on HAM10000; "
                        + "non-commercial use only\",\n", ""),
                "manifest: missing field(s) attribution");
        String method = "  \"method\":";
        refused(SampleManifest.V5.replace(method, "  \"license\": \"MIT\",\n" + method),
                "manifest: unknown field(s) license");
        refused(SampleManifest.V6_LICENSED.replace(method, "  \"terms\": 1,\n" + method),
                "manifest: unknown field(s) terms");
    }

    @Test
    public void eachVersionHasExactlyItsFields() {
        // Version 2 requires what version 1 has optionally, and the fields it added.
        refused(SampleManifest.v2With("    \"max_batch\": 128,\n", ""),
                "manifest.input: missing field(s) max_batch");
        String sha = SampleManifest.repeat("5e", 32);
        refused(SampleManifest.v2With("    \"program_sha256\": \"" + sha + "\",\n", ""),
                "manifest.quantization: missing field(s) program_sha256");
        refused(SampleManifest.v2With("    \"exif_orientation\": \"applied\",\n", ""),
                "manifest.preprocessing: missing field(s) exif_orientation");
        refused(SampleManifest.v2With("    \"alpha\": \"composite_on_white\",\n", ""),
                "manifest.preprocessing: missing field(s) alpha");
        refused(SampleManifest.v2With("    \"float_decision_agreement\": 0.97,\n", ""),
                "manifest.verification: missing field(s) float_decision_agreement");
        // Version 1 does not have them: strict, as for any unknown field.
        refused(SampleManifest.with("\"color\": \"RGB\",", "\"alpha\": \"x\", \"color\": \"RGB\","),
                "manifest.preprocessing: unknown field(s) alpha");
        refused(SampleManifest.with("\"passed\": true,",
                        "\"float_decision_agreement\": 1, \"passed\": true,"),
                "manifest.verification: unknown field(s) float_decision_agreement");
        refused(SampleManifest.v2With("\"qat\": false,", "\"qat\": false, \"bits\": 8,"),
                "manifest.quantization: unknown field(s) bits");
    }

    @Test
    public void version2SettingsTheAppDoesNotImplementAreRefused() {
        refused(SampleManifest.v2With("\"composite_on_white\"", "\"premultiplied\""),
                "manifest.preprocessing.alpha 'premultiplied' is not supported"
                        + " (composite_on_white)");
        refused(SampleManifest.v2With("\"exif_orientation\": \"applied\"",
                        "\"exif_orientation\": \"ignored\""),
                "manifest.preprocessing.exif_orientation 'ignored' is not supported (applied)");
        refused(SampleManifest.v2With("\"composite_on_white\"", "null"),
                "manifest.preprocessing.alpha: expected a string, got null");
    }

    @Test
    public void maxBatchIsOptionalInVersion1AndNullableAsInPython() throws Exception {
        assertEquals(Long.valueOf(128), ManifestParser.parse(SampleManifest.JSON).input.maxBatch);
        String absent = SampleManifest.with("    \"max_batch\": 128,\n", "");
        assertNull(ManifestParser.parse(absent).input.maxBatch);
        String any = SampleManifest.with("\"max_batch\": 128", "\"max_batch\": null");
        assertNull(ManifestParser.parse(any).input.maxBatch);
        refused(SampleManifest.with("\"max_batch\": 128", "\"max_batch\": 0"),
                "manifest.input.max_batch 0 is below 1");
        refused(SampleManifest.with("\"max_batch\": 128", "\"max_batch\": \"128\""),
                "manifest.input.max_batch: expected an integer, got a string");
    }

    @Test
    public void programSha256IsOptionalInVersion1AndNullableAsInPython() throws Exception {
        String sha = SampleManifest.repeat("5e", 32);
        assertEquals(sha, ManifestParser.parse(SampleManifest.JSON).quantization.programSha256);
        String absent = SampleManifest.with("    \"program_sha256\": \"" + sha + "\",\n", "");
        assertNull(ManifestParser.parse(absent).quantization.programSha256);
        String fp32 = SampleManifest.with("\"" + sha + "\"", "null");
        assertNull(ManifestParser.parse(fp32).quantization.programSha256);
    }

    @Test
    public void verificationReferenceIsNullableAsInPython() throws Exception {
        String specOnly = SampleManifest.with(
                "\"reference\": \"fp32 PyTorch checkpoint\"", "\"reference\": null");
        assertNull(ManifestParser.parse(specOnly).verification.reference);
        refused(SampleManifest.with(
                        "\"reference\": \"fp32 PyTorch checkpoint\"", "\"reference\": 3"),
                "manifest.verification.reference: expected a string, got the integer 3");
    }

    @Test
    public void targetInfoIsOptionalAsInPython() throws Exception {
        Manifest m = ManifestParser.parse(
                SampleManifest.with("  \"target_info\": {\"delegated_ops\": 11},\n", ""));
        assertTrue(m.targetInfo.isEmpty());
    }

    @Test
    public void unknownSchemaVersionsAreRefusedFirst() {
        for (String version : new String[] {"7", "0", "\"1\"", "null", "1.5", "2.0"}) {
            String json = SampleManifest.with("\"schema_version\": 1", "\"schema_version\": "
                    + version).replace("\"model_name\": \"cnn\",", ""); // also missing a field
            ManifestException e = refused(json, "manifest: schema_version ");
            assertTrue(version + ": " + e, e instanceof UnknownSchemaVersionException);
            assertTrue(e.getMessage(), e.getMessage().contains("expected 1 to 6"));
            assertTrue(e.getMessage(), e.getMessage().contains("update the app"));
        }
        ManifestException e = refused(SampleManifest.with("  \"schema_version\": 1,\n", ""),
                "manifest: schema_version missing, expected 1 to 6");
        assertTrue(e instanceof UnknownSchemaVersionException);
    }

    @Test
    public void missingAndUnknownFieldsAreErrorsLikeInPython() {
        refused(SampleManifest.with("\"precision\": \"int8\",", ""),
                "manifest: missing field(s) precision");
        refused(SampleManifest.with("\"precision\"", "\"zz\": 1, \"precision\""),
                "manifest: unknown field(s) zz");
        refused(SampleManifest.with("\"min_side\": 32,", ""),
                "manifest.preprocessing: missing field(s) min_side");
        refused(SampleManifest.with("\"qat\": false,", "\"qat\": false, \"bits\": 8,"),
                "manifest.quantization: unknown field(s) bits");
        refused(SampleManifest.with("\"val_specificity\": 0.79", "\"x\": 0.79"),
                "manifest.thresholds[0]: missing field(s) val_specificity");
    }

    @Test
    public void wrongTypesNameTheField() {
        refused(SampleManifest.with("\"size\": 32", "\"size\": \"32\""),
                "manifest.preprocessing.size: expected an integer, got a string");
        refused(SampleManifest.with("\"size\": 32", "\"size\": 32.0"),
                "manifest.preprocessing.size: expected an integer, got the number 32.0");
        refused(SampleManifest.with("\"mean\": [0.742,", "\"mean\": [null,"),
                "manifest.preprocessing.mean[0]: expected a number, got null");
        refused(SampleManifest.with("\"passed\": true", "\"passed\": 1"),
                "manifest.verification.passed: expected true or false, got the integer 1");
    }

    @Test
    public void settingsTheAppCannotRunAreRefused() {
        refused(SampleManifest.with("\"target\": \"executorch\"", "\"target\": \"onnx\""),
                "manifest.target is 'onnx': this app runs ExecuTorch (.pte) models only");
        refused(SampleManifest.with("\"passed\": true", "\"passed\": false"),
                "manifest.verification.passed is false: this model failed its export check"
                        + " (outputs)");
        refused(SampleManifest.with("\"resize\": \"area\"", "\"resize\": \"bilinear\""),
                "manifest.preprocessing.resize 'bilinear' is not supported (area)");
        refused(SampleManifest.with("\"min_side\": 32", "\"min_side\": 16"),
                "manifest.preprocessing.min_side 16 is below size 32");
        refused(SampleManifest.with("\"std\": [0.152,", "\"std\": [0.0,"),
                "manifest.preprocessing.std values must be positive");
        refused(SampleManifest.with("\"mean\": [0.742, ", "\"mean\": ["),
                "manifest.preprocessing.mean needs 3 values (RGB), got 2");
        refused(SampleManifest.with("\"scale\": 0.00392156862745098", "\"scale\": 1"),
                "manifest.preprocessing.scale 1.0 is not supported (1/255)");
        refused(SampleManifest.with("[\"N\", 3, 32, 32]", "[\"N\", 32, 32, 3]"),
                "manifest.input.shape [N, 32, 32, 3] is not [N, 3, 32, 32]");
        refused(SampleManifest.with("\"activation\": \"sigmoid\"", "\"activation\": \"none\""),
                "manifest.output.activation 'none' is not sigmoid");
        refused(SampleManifest.with("\"probability\": 0.4817", "\"probability\": 1.2"),
                "manifest.thresholds[0].probability: expected a number in [0, 1], got 1.2");
        refused(SampleManifest.with("\"name\": \"sensitivity_0.90\"", "\"name\": \"youden\""),
                "manifest.thresholds: duplicate name 'youden'");
        refused(SampleManifest.with("\"name\": \"cnn-executorch-int8.pte\"",
                "\"name\": \"../../databases/x.pte\""),
                "manifest.file.name '../../databases/x.pte' must be a plain file name");
    }

    /**
     * Each input and output setting alone: the app feeds one RGB NCHW float32 image of size x
     * size and reads one logit, so a manifest describing anything else must be refused, not run
     * with inputs the model was not trained on (a BGR or NHWC model would get wrong scores).
     */
    @Test
    public void eachInputAndOutputSettingIsCheckedOnItsOwn() {
        String shape = "[\"N\", 3, 32, 32]";
        refused(SampleManifest.with(shape, "[\"N\", 3, 64, 32]"),
                "manifest.input.shape [N, 3, 64, 32] is not [N, 3, 32, 32]");
        refused(SampleManifest.with(shape, "[\"N\", 3, 32, 64]"),
                "manifest.input.shape [N, 3, 32, 64] is not [N, 3, 32, 32]");
        refused(SampleManifest.with(shape, "[\"N\", 1, 32, 32]"),
                "manifest.input.shape [N, 1, 32, 32] is not [N, 3, 32, 32]");
        refused(SampleManifest.with("\"dtype\": \"float32\"", "\"dtype\": \"uint8\""),
                "manifest.input.dtype 'uint8' is not float32");
        refused(SampleManifest.with("\"layout\": \"NCHW\"", "\"layout\": \"NHWC\""),
                "manifest.input.layout 'NHWC' is not NCHW");
        refused(SampleManifest.with("\"color\": \"RGB\"", "\"color\": \"BGR\""),
                "manifest.preprocessing.color 'BGR' is not supported (RGB)");
        refused(SampleManifest.with("\"crop\": \"center_square\"", "\"crop\": \"none\""),
                "manifest.preprocessing.crop 'none' is not supported (center_square)");
        refused(SampleManifest.with("[\"N\", 1]", "[\"N\", 2]"),
                "manifest.output.shape [N, 2] is not [N, 1]");
        refused(SampleManifest.with("\"kind\": \"logit\"", "\"kind\": \"probability\""),
                "manifest.output.kind 'probability' is not logit");
    }

    static ManifestException refused(String json, String messageStart) {
        try {
            ManifestParser.parse(json);
        } catch (ManifestException e) {
            assertTrue("'" + e.getMessage() + "' does not start with '" + messageStart + "'",
                    e.getMessage().startsWith(messageStart));
            return e;
        }
        fail("accepted, expected: " + messageStart);
        return null;
    }
}
