package org.melanoma.demo.core;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The artifact manifest, mirroring melanoma/manifest.py (schema versions {@link
 * #OLDEST_SCHEMA_VERSION} to {@link #NEWEST_SCHEMA_VERSION}).
 *
 * <p>Plain immutable data; {@link ManifestParser} builds and validates it. Field names follow the
 * JSON keys in camel case. Sections the app does not act on (quantization, verification, versions,
 * target_info) are kept so the screen can show where the model came from.
 */
public final class Manifest {
    /**
     * The schema versions this app reads, melanoma.manifest.READABLE_VERSIONS. Readers are strict
     * (an unknown field is an error), so every field added to the schema bumps the version, and an
     * app that predates a version says "update the app" instead of failing on a field name.
     */
    public static final int OLDEST_SCHEMA_VERSION = 1;

    public static final int NEWEST_SCHEMA_VERSION = 6;

    public final int schemaVersion;
    public final String modelName;
    public final String method; // "supervised" or "sgan"
    public final String target; // "executorch" for this app
    public final String precision; // "fp32" or "int8"
    public final FileInfo file;
    public final InputSpec input;
    public final Preprocessing preprocessing;
    public final OutputSpec output;
    public final List<Threshold> thresholds; // in manifest order, not sorted
    /** Since version 4: the threshold to decide at; null before (whose exporters used youden). */
    public final String defaultThreshold;
    public final Quantization quantization;
    public final String sourceCheckpointSha256;
    public final Map<String, String> versions;
    public final String createdUtc;
    public final Verification verification;
    public final Map<String, Object> targetInfo;
    /**
     * Since version 6 (null before, which did not say): the terms the weights carry from their
     * training data, an SPDX expression ("CC-BY-NC-4.0": non-commercial use only) or "not
     * stated" (the data's licence was not recorded: not a licence to use it).
     */
    public final String license;
    /** Since version 6: what the licence asks to credit; null when not stated, and before. */
    public final String attribution;

    Manifest(
            int schemaVersion,
            String modelName,
            String method,
            String target,
            String precision,
            FileInfo file,
            InputSpec input,
            Preprocessing preprocessing,
            OutputSpec output,
            List<Threshold> thresholds,
            String defaultThreshold,
            Quantization quantization,
            String sourceCheckpointSha256,
            Map<String, String> versions,
            String createdUtc,
            Verification verification,
            Map<String, Object> targetInfo,
            String license,
            String attribution) {
        this.schemaVersion = schemaVersion;
        this.modelName = modelName;
        this.method = method;
        this.target = target;
        this.precision = precision;
        this.file = file;
        this.input = input;
        this.preprocessing = preprocessing;
        this.output = output;
        this.thresholds = Collections.unmodifiableList(thresholds);
        this.defaultThreshold = defaultThreshold;
        this.quantization = quantization;
        this.sourceCheckpointSha256 = sourceCheckpointSha256;
        this.versions = Collections.unmodifiableMap(versions);
        this.createdUtc = createdUtc;
        this.verification = verification;
        this.targetInfo = Collections.unmodifiableMap(targetInfo);
        this.license = license;
        this.attribution = attribution;
    }

    /** The threshold to decide at: the manifest's default_threshold, youden before version 4. */
    public String decisionThresholdName() {
        return defaultThreshold != null ? defaultThreshold : Screening.DEFAULT_THRESHOLD;
    }

    /**
     * The weights' terms in words for the screen: the licence and what it asks to credit. A
     * manifest before version 6 does not say, which is not a licence to use the model either.
     */
    public String termsLine() {
        String terms = license != null ? license : "not stated (manifest before version 6)";
        return "Licence: " + terms + (attribution != null ? ". " + attribution : "");
    }

    /** The artifact this manifest describes. */
    public static final class FileInfo {
        public final String name; // relative to the manifest's folder
        public final String sha256;
        public final long sizeBytes;

        FileInfo(String name, String sha256, long sizeBytes) {
            this.name = name;
            this.sha256 = sha256;
            this.sizeBytes = sizeBytes;
        }
    }

    /** The model input; the app only accepts (N or 1, 3, size, size) float32 NCHW. */
    public static final class InputSpec {
        public final String name;
        public final List<Object> shape; // "N" marks a dynamic batch
        public final String dtype;
        public final String layout;
        public final double[] valueRange; // [min, max]
        public final Long maxBatch; // largest N the model takes; null: any (the app runs 1)

        InputSpec(
                String name,
                List<Object> shape,
                String dtype,
                String layout,
                double[] range,
                Long maxBatch) {
            this.name = name;
            this.shape = Collections.unmodifiableList(shape);
            this.dtype = dtype;
            this.layout = layout;
            this.valueRange = range.clone();
            this.maxBatch = maxBatch;
        }
    }

    /** The preprocessing contract of melanoma/preprocess.py, with its training statistics. */
    public static final class Preprocessing {
        public final String color; // "RGB"
        public final String crop; // "center_square"
        public final String resize; // "area"
        public final int size; // 32
        public final int minSide; // smaller crops are refused
        public final double scale; // 1/255
        private final double[] mean; // per channel, RGB, 0..1 scale
        private final double[] std;
        // Since schema version 2; null in version 1, whose exporters did the same without saying.
        public final String exifOrientation; // "applied": the photo is turned upright first
        public final String alpha; // "composite_on_white": transparency becomes white
        // Since schema version 3; null before, whose exporters took every photo's values as sRGB.
        public final String colorProfile; // "convert_to_srgb": an embedded ICC profile applies
        // Since schema version 5 (null before): the steps above in words, for a reader with only
        // the manifest; the app implements the named fields above and only keeps these.
        public final List<String> steps;

        Preprocessing(
                String color,
                String crop,
                String resize,
                int size,
                int minSide,
                double scale,
                double[] mean,
                double[] std,
                String exifOrientation,
                String alpha,
                String colorProfile,
                List<String> steps) {
            this.color = color;
            this.crop = crop;
            this.resize = resize;
            this.size = size;
            this.minSide = minSide;
            this.scale = scale;
            this.mean = mean.clone();
            this.std = std.clone();
            this.exifOrientation = exifOrientation;
            this.alpha = alpha;
            this.colorProfile = colorProfile;
            this.steps = steps;
        }

        public double[] mean() {
            return mean.clone();
        }

        public double[] std() {
            return std.clone();
        }
    }

    /** The model output: one logit per image; sigmoid gives P(positive class). */
    public static final class OutputSpec {
        public final String name;
        public final List<Object> shape; // ["N", 1]
        public final String kind; // "logit"
        public final String activation; // "sigmoid"
        public final String positiveClass; // "melanoma"

        OutputSpec(String name, List<Object> shape, String kind, String activation, String pos) {
            this.name = name;
            this.shape = Collections.unmodifiableList(shape);
            this.kind = kind;
            this.activation = activation;
            this.positiveClass = pos;
        }
    }

    /** Decide the positive class when sigmoid(logit) >= probability. */
    public static final class Threshold {
        public final String name; // "youden", "sensitivity_0.90", ...
        public final double probability;
        public final double valSensitivity;
        public final double valSpecificity;

        public Threshold(String name, double probability, double valSens, double valSpec) {
            this.name = name;
            this.probability = probability;
            this.valSensitivity = valSens;
            this.valSpecificity = valSpec;
        }
    }

    /** How the artifact was quantized. */
    public static final class Quantization {
        public final String scheme;
        public final boolean perChannel;
        public final boolean qat;
        public final String programSha256; // the QAT program.pt2 it came from; null for fp32
        // Since version 4, int8 only (null for fp32 and before): [low, high] of the normalized
        // input and of the logit that the int8 program represents; values outside are clipped.
        public final double[] inputRange;
        public final double[] logitRange;

        Quantization(String scheme, boolean perChannel, boolean qat, String programSha256,
                double[] inputRange, double[] logitRange) {
            this.scheme = scheme;
            this.perChannel = perChannel;
            this.qat = qat;
            this.programSha256 = programSha256;
            this.inputRange = inputRange;
            this.logitRange = logitRange;
        }
    }

    /** What the exporter checked after export. Nullable numbers are boxed. */
    public static final class Verification {
        public final String runtime;
        public final String check;
        public final String reference; // null when nothing was compared (spec-only)
        public final Double maxAbsDiff;
        public final Double tolerance;
        public final Double decisionAgreement;
        public final int nImages;
        public final boolean passed;
        // Since schema version 2: decisionAgreement against the float source model (for int8 the
        // reference above is the QAT program); null in version 1 and when nothing ran.
        public final Double floatDecisionAgreement;

        Verification(
                String runtime,
                String check,
                String reference,
                Double maxAbsDiff,
                Double tolerance,
                Double decisionAgreement,
                int nImages,
                boolean passed,
                Double floatDecisionAgreement) {
            this.runtime = runtime;
            this.check = check;
            this.reference = reference;
            this.maxAbsDiff = maxAbsDiff;
            this.tolerance = tolerance;
            this.decisionAgreement = decisionAgreement;
            this.nImages = nImages;
            this.passed = passed;
            this.floatDecisionAgreement = floatDecisionAgreement;
        }
    }
}
