package org.melanoma.demo.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Parses the JSON that melanoma.manifest.Manifest.to_json() writes, with the same rules as
 * melanoma.manifest.manifest_from_dict: the schema version is checked first, then every section
 * must have exactly its version's fields (missing and unknown fields are both errors). On top of
 * that the values are type-checked, and {@link AppSupport} refuses settings this app does not
 * implement.
 *
 * <p>Version 2 differs from version 1 only in fields: it adds preprocessing.exif_orientation,
 * preprocessing.alpha and verification.float_decision_agreement, and requires input.max_batch and
 * quantization.program_sha256, which version 1 has optionally. Version 3 adds
 * preprocessing.color_profile. Version 4 adds quantization.input_range and logit_range, and
 * default_threshold. Version 5 adds preprocessing.steps. Version 6 adds license and attribution.
 */
public final class ManifestParser {
    private static final String WHERE = "manifest";

    private static final String[] TOP_REQUIRED = {
        "model_name", "method", "target", "precision", "file", "input", "preprocessing",
        "output", "thresholds", "quantization", "source_checkpoint_sha256", "versions",
        "created_utc", "verification",
    };
    private static final String[] TOP_OPTIONAL = {"target_info", "schema_version"};
    private static final String[] TOP_ADDED_IN_4 = {"default_threshold"};
    private static final String[] TOP_ADDED_IN_6 = {"license", "attribution"};
    // added since version 1: in an older manifest, wrong rather than from a newer toolkit
    private static final String[] TOP_ADDED = {"default_threshold", "license", "attribution"};
    private static final String[] NONE = {};

    private ManifestParser() {}

    /** Parse, validate against the schema, and check that this app can run what it describes. */
    public static Manifest parse(String json) throws ManifestException {
        Object root;
        try {
            root = Json.parse(json);
        } catch (JsonException e) {
            throw new ManifestException("manifest is not valid JSON: " + e.getMessage(), e);
        }
        Manifest manifest = fromJson(root);
        AppSupport.check(manifest);
        return manifest;
    }

    /** Build a manifest from parsed JSON, with the schema checks only. */
    static Manifest fromJson(Object root) throws ManifestException {
        if (!(root instanceof java.util.Map)) {
            throw new ManifestException(WHERE + ": expected a JSON object");
        }
        JsonFields top = JsonFields.of(root, WHERE);
        int version = schemaVersion(top);
        if (version >= 4) {
            List<String> required = new ArrayList<String>(Arrays.asList(TOP_REQUIRED));
            required.addAll(Arrays.asList(TOP_ADDED_IN_4));
            if (version >= 6) {
                required.addAll(Arrays.asList(TOP_ADDED_IN_6));
            }
            top.checkKeys(required.toArray(NONE), TOP_OPTIONAL, TOP_ADDED);
        } else {
            top.checkKeys(TOP_REQUIRED, TOP_OPTIONAL, TOP_ADDED);
        }
        List<Manifest.Threshold> thresholds = thresholds(top);
        Manifest.Quantization quantization = quantization(top.object("quantization"), version);
        String precision = top.string("precision");
        if (version >= 4) {
            checkInt8Ranges(precision, quantization);
        }
        return new Manifest(
                version,
                top.string("model_name"),
                top.string("method"),
                top.string("target"),
                precision,
                fileInfo(top.object("file")),
                inputSpec(top.object("input"), version),
                preprocessing(top.object("preprocessing"), version),
                outputSpec(top.object("output")),
                thresholds,
                defaultThreshold(top, thresholds),
                quantization,
                top.string("source_checkpoint_sha256"),
                top.stringMap("versions"),
                top.string("created_utc"),
                verification(top.object("verification"), version),
                top.anyMapOrEmpty("target_info"),
                version >= 6 ? text(top, "license") : null,
                version >= 6 && top.raw("attribution") != null ? text(top, "attribution") : null);
    }

    /** A string with more than blanks, as melanoma.manifest._RULES requires of the terms. */
    private static String text(JsonFields f, String key) throws ManifestException {
        String value = f.string(key);
        if (blank(value)) {
            throw new ManifestException(f.path(key) + ": expected a non-empty string, got \""
                    + value + "\"");
        }
        return value;
    }

    /**
     * Blank as Python's str.strip() sees it (str.isspace): Java's trim() removes the control
     * characters below U+0020 but keeps U+00A0, U+0085 and the other Unicode spaces, so the
     * app took a licence of one no-break space that melanoma-bench refused.
     */
    private static boolean blank(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!Character.isWhitespace(c) && !Character.isSpaceChar(c) && c != 0x85) {
                return false;
            }
        }
        return true;
    }

    /**
     * Like Python, a version this app does not read (or a missing one, or 2.0) is refused first,
     * before any field check: a newer exporter's fields would only give a confusing message.
     */
    private static int schemaVersion(JsonFields top) throws UnknownSchemaVersionException {
        Object version = top.raw("schema_version");
        if (version instanceof Long
                && (Long) version >= Manifest.OLDEST_SCHEMA_VERSION
                && (Long) version <= Manifest.NEWEST_SCHEMA_VERSION) {
            return ((Long) version).intValue();
        }
        String shown = version == null ? "missing" : String.valueOf(version);
        String range = Manifest.OLDEST_SCHEMA_VERSION + " to " + Manifest.NEWEST_SCHEMA_VERSION;
        throw new UnknownSchemaVersionException(WHERE + ": schema_version " + shown + ", expected "
                + range + " (this app reads manifest schema versions " + range
                + " only: update the app or export the model with a matching toolkit)");
    }

    /**
     * A section's fields in a schema version: version 1 has {@code required} and {@code
     * optionalIn1}; version 2 requires both and also {@code addedFrom2[0]}; version 3 also
     * {@code addedFrom2[1]}, and so on. Anything else is an error.
     */
    private static void checkKeys(JsonFields f, int version, String[] required,
            String[] optionalIn1, String[]... addedFrom2) throws ManifestException {
        List<String> later = new ArrayList<String>(); // added since version 2: not unknown
        for (String[] added : addedFrom2) {
            later.addAll(Arrays.asList(added));
        }
        if (version == 1) {
            f.checkKeys(required, optionalIn1, later.toArray(NONE));
            return;
        }
        List<String> all = new ArrayList<String>(Arrays.asList(required));
        all.addAll(Arrays.asList(optionalIn1));
        for (int added = 2; added <= version && added - 2 < addedFrom2.length; added++) {
            all.addAll(Arrays.asList(addedFrom2[added - 2]));
        }
        f.checkKeys(all.toArray(NONE), NONE, later.toArray(NONE));
    }

    private static Manifest.FileInfo fileInfo(JsonFields f) throws ManifestException {
        f.checkKeys(new String[] {"name", "sha256", "size_bytes"}, NONE);
        long size = f.integer("size_bytes");
        if (size < 0) { // melanoma.manifest._RULES
            throw new ManifestException(
                    f.path("size_bytes") + ": expected a size >= 0, got " + size);
        }
        return new Manifest.FileInfo(f.string("name"), f.string("sha256"), size);
    }

    private static Manifest.InputSpec inputSpec(JsonFields f, int version)
            throws ManifestException {
        checkKeys(f, version,
                new String[] {"name", "shape", "dtype", "layout", "value_range"},
                new String[] {"max_batch"},
                NONE,
                NONE);
        Long maxBatch = f.raw("max_batch") == null ? null : Long.valueOf(f.integer("max_batch"));
        if (maxBatch != null && maxBatch < 1) {
            throw new ManifestException(f.path("max_batch") + " " + maxBatch + " is below 1");
        }
        double[] range = f.numbers("value_range");
        if (range.length != 2 || !(range[0] <= range[1])) { // melanoma.manifest._RULES
            throw new ManifestException(f.path("value_range") + ": expected [min, max], got "
                    + shown(range));
        }
        return new Manifest.InputSpec(
                f.string("name"),
                f.listOrCopy("shape"),
                f.string("dtype"),
                f.string("layout"),
                range,
                maxBatch);
    }

    private static Manifest.Preprocessing preprocessing(JsonFields f, int version)
            throws ManifestException {
        checkKeys(f, version,
                new String[] {
                    "color", "crop", "resize", "size", "min_side", "scale", "mean", "std"
                },
                NONE,
                new String[] {"exif_orientation", "alpha"},
                new String[] {"color_profile"},
                NONE,
                new String[] {"steps"});
        boolean v2 = version >= 2;
        return new Manifest.Preprocessing(
                f.string("color"),
                f.string("crop"),
                f.string("resize"),
                smallInt(f, "size"),
                smallInt(f, "min_side"),
                f.number("scale"),
                f.numbers("mean"),
                f.numbers("std"),
                v2 ? f.string("exif_orientation") : null,
                v2 ? f.string("alpha") : null,
                version >= 3 ? f.string("color_profile") : null,
                version >= 5 ? f.strings("steps") : null);
    }

    private static Manifest.OutputSpec outputSpec(JsonFields f) throws ManifestException {
        f.checkKeys(new String[] {"name", "shape", "kind", "activation", "positive_class"}, NONE);
        return new Manifest.OutputSpec(
                f.string("name"),
                f.listOrCopy("shape"),
                f.string("kind"),
                f.string("activation"),
                f.string("positive_class"));
    }

    private static List<Manifest.Threshold> thresholds(JsonFields top) throws ManifestException {
        List<Object> items = top.list("thresholds");
        List<Manifest.Threshold> out = new ArrayList<Manifest.Threshold>();
        for (int i = 0; i < items.size(); i++) {
            JsonFields t = JsonFields.of(items.get(i), top.path("thresholds") + "[" + i + "]");
            t.checkKeys(
                    new String[] {"name", "probability", "val_sensitivity", "val_specificity"},
                    NONE);
            out.add(
                    new Manifest.Threshold(
                            t.string("name"),
                            unit(t, "probability"),
                            unit(t, "val_sensitivity"),
                            unit(t, "val_specificity")));
        }
        return out;
    }

    private static Manifest.Quantization quantization(JsonFields f, int version)
            throws ManifestException {
        checkKeys(f, version, new String[] {"scheme", "per_channel", "qat"},
                new String[] {"program_sha256"}, NONE, NONE,
                new String[] {"input_range", "logit_range"});
        String program = f.raw("program_sha256") == null ? null : f.string("program_sha256");
        return new Manifest.Quantization(f.string("scheme"), f.bool("per_channel"), f.bool("qat"),
                program, rangeOrNull(f, "input_range"), rangeOrNull(f, "logit_range"));
    }

    /** The named default (one of the thresholds, as in Python), or null before version 4. */
    private static String defaultThreshold(JsonFields top, List<Manifest.Threshold> thresholds)
            throws ManifestException {
        if (top.raw("default_threshold") == null) {
            return null;
        }
        String name = top.string("default_threshold");
        List<String> names = new ArrayList<String>();
        for (Manifest.Threshold t : thresholds) {
            names.add(t.name);
        }
        if (!names.contains(name)) {
            throw new ManifestException(WHERE + ".default_threshold: '" + name
                    + "' is not one of the thresholds (" + String.join(", ", names) + ")");
        }
        return name;
    }

    /** A number in [0, 1], as melanoma.manifest._RULES requires of a threshold's values. */
    private static double unit(JsonFields f, String key) throws ManifestException {
        double value = f.number(key);
        if (!(value >= 0 && value <= 1)) {
            throw new ManifestException(
                    f.path(key) + ": expected a number in [0, 1], got " + shown(value));
        }
        return value;
    }

    /** A number as the JSON had it where that is unambiguous: 2, not 2.0. */
    private static String shown(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15
                ? String.valueOf((long) value) : String.valueOf(value);
    }

    private static String shown(double[] values) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            out.append(i == 0 ? "" : ", ").append(shown(values[i]));
        }
        return out.append(']').toString();
    }

    /** Both ranges for int8, neither otherwise, as in Python: readers may rely on the pair. */
    private static void checkInt8Ranges(String precision, Manifest.Quantization q)
            throws ManifestException {
        boolean int8 = precision.equals("int8");
        if ((q.inputRange != null) != int8 || (q.logitRange != null) != int8) {
            throw new ManifestException(WHERE + ".quantization: input_range and logit_range must"
                    + " both be set for int8 and both null otherwise (precision '" + precision
                    + "')");
        }
    }

    /** [low, high] with low < high, or null (absent before version 4, null for fp32). */
    private static double[] rangeOrNull(JsonFields f, String key) throws ManifestException {
        if (f.raw(key) == null) {
            return null;
        }
        double[] range = f.numbers(key);
        if (range.length != 2 || !(range[0] < range[1])) {
            throw new ManifestException(
                    f.path(key) + ": expected [low, high] or null, got " + Arrays.toString(range));
        }
        return range;
    }

    private static Manifest.Verification verification(JsonFields f, int version)
            throws ManifestException {
        checkKeys(f, version,
                new String[] {
                    "runtime", "check", "reference", "max_abs_diff", "tolerance",
                    "decision_agreement", "n_images", "passed",
                },
                NONE,
                new String[] {"float_decision_agreement"},
                NONE);
        // null when nothing was compared (a spec-only check, e.g. Core ML off macOS)
        String reference = f.raw("reference") == null ? null : f.string("reference");
        Double floatAgreement = null;
        if (version >= 2) {
            floatAgreement = f.numberOrNull("float_decision_agreement");
            if (floatAgreement != null && !(floatAgreement >= 0 && floatAgreement <= 1)) {
                throw new ManifestException(f.path("float_decision_agreement")
                        + ": expected a number in [0, 1] or null, got " + floatAgreement);
            }
        }
        return new Manifest.Verification(
                f.string("runtime"),
                f.string("check"),
                reference,
                f.numberOrNull("max_abs_diff"),
                f.numberOrNull("tolerance"),
                f.numberOrNull("decision_agreement"),
                smallInt(f, "n_images"),
                f.bool("passed"),
                floatAgreement);
    }

    private static int smallInt(JsonFields f, String key) throws ManifestException {
        long value = f.integer(key);
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new ManifestException(f.path(key) + ": " + value + " is out of range");
        }
        return (int) value;
    }
}
