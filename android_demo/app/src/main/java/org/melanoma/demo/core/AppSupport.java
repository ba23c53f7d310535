package org.melanoma.demo.core;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What this app can run, checked on a schema-valid manifest: an ExecuTorch artifact with one
 * (1 or N, 3, size, size) float32 NCHW input, the area-resize preprocessing of
 * melanoma/preprocess.py, one sigmoid logit out, at least one probability threshold, and an
 * export check that passed.
 *
 * <p>Anything else is refused with a message naming the field, rather than run with settings the
 * app would silently ignore.
 */
final class AppSupport {
    /** melanoma/preprocess.py divides by 255 before mean/std; the manifest stores 1/255. */
    private static final double SCALE = 1.0 / 255.0;

    private AppSupport() {}

    static void check(Manifest m) throws ManifestException {
        require("executorch".equals(m.target), "manifest.target is '" + m.target
                + "': this app runs ExecuTorch (.pte) models only");
        checkFileName(m.file.name);
        // The exporter deletes an artifact that fails its check; a manifest saying it failed was
        // written by hand or by another tool, and melanoma-bench refuses it too.
        require(m.verification.passed, "manifest.verification.passed is false: this model failed"
                + " its export check (" + m.verification.check + ")");
        checkPreprocessing(m.preprocessing, m.schemaVersion);
        checkInput(m.input, m.preprocessing.size);
        checkOutput(m.output);
        checkThresholds(m.thresholds);
    }

    private static void checkFileName(String name) throws ManifestException {
        boolean plain = !name.isEmpty() && !name.equals(".") && !name.equals("..")
                && name.indexOf('/') < 0 && name.indexOf('\\') < 0;
        require(plain, "manifest.file.name '" + name + "' must be a plain file name next to the"
                + " manifest");
    }

    private static void checkPreprocessing(Manifest.Preprocessing p, int schemaVersion)
            throws ManifestException {
        String where = "manifest.preprocessing.";
        // Version 2 states what version 1 did without saying (both null there): ImageLoader turns
        // the photo upright, Preprocessor composites transparency onto white.
        if (schemaVersion >= 2) {
            require("applied".equals(p.exifOrientation), where + "exif_orientation '"
                    + p.exifOrientation + "' is not supported (applied)");
            require("composite_on_white".equals(p.alpha),
                    where + "alpha '" + p.alpha + "' is not supported (composite_on_white)");
        }
        // Android 8+ (minSdk 26) hands the app sRGB pixels whatever the photo's ICC profile.
        if (schemaVersion >= 3) {
            require("convert_to_srgb".equals(p.colorProfile), where + "color_profile '"
                    + p.colorProfile + "' is not supported (convert_to_srgb)");
        }
        require("RGB".equals(p.color), where + "color '" + p.color + "' is not supported (RGB)");
        require("center_square".equals(p.crop),
                where + "crop '" + p.crop + "' is not supported (center_square)");
        require("area".equals(p.resize),
                where + "resize '" + p.resize + "' is not supported (area)");
        require(p.size >= 1, where + "size must be positive, got " + p.size);
        require(p.minSide >= p.size, where + "min_side " + p.minSide + " is below size " + p.size
                + ": the app never upsamples");
        require(Math.abs(p.scale - SCALE) <= 1e-12,
                where + "scale " + p.scale + " is not supported (1/255)");
        checkChannels(p.mean(), where + "mean", false);
        checkChannels(p.std(), where + "std", true);
    }

    private static void checkChannels(double[] values, String where, boolean positive)
            throws ManifestException {
        require(values.length == 3, where + " needs 3 values (RGB), got " + values.length);
        for (double v : values) {
            require(!Double.isNaN(v) && !Double.isInfinite(v), where + " has a non-finite value");
            require(!positive || v > 0, where + " values must be positive, got " + v);
        }
    }

    private static void checkInput(Manifest.InputSpec in, int size) throws ManifestException {
        String where = "manifest.input.";
        require("float32".equals(in.dtype), where + "dtype '" + in.dtype + "' is not float32");
        require("NCHW".equals(in.layout), where + "layout '" + in.layout + "' is not NCHW");
        boolean shapeOk = in.shape.size() == 4 && isBatch(in.shape.get(0))
                && isInt(in.shape.get(1), 3) && isInt(in.shape.get(2), size)
                && isInt(in.shape.get(3), size);
        require(shapeOk, where + "shape " + in.shape + " is not [N, 3, " + size + ", " + size
                + "]");
    }

    private static void checkOutput(Manifest.OutputSpec out) throws ManifestException {
        String where = "manifest.output.";
        require("logit".equals(out.kind), where + "kind '" + out.kind + "' is not logit");
        require("sigmoid".equals(out.activation),
                where + "activation '" + out.activation + "' is not sigmoid");
        boolean shapeOk = out.shape.size() == 2 && isBatch(out.shape.get(0))
                && isInt(out.shape.get(1), 1);
        require(shapeOk, where + "shape " + out.shape + " is not [N, 1]");
    }

    private static void checkThresholds(List<Manifest.Threshold> thresholds)
            throws ManifestException {
        require(!thresholds.isEmpty(), "manifest.thresholds is empty: the app needs at least one"
                + " to place a risk band");
        Set<String> names = new HashSet<String>();
        for (Manifest.Threshold t : thresholds) {
            require(!t.name.isEmpty(), "manifest.thresholds: a threshold has an empty name");
            require(names.add(t.name), "manifest.thresholds: duplicate name '" + t.name + "'");
        }
    }

    private static boolean isBatch(Object dim) {
        return "N".equals(dim) || isInt(dim, 1);
    }

    private static boolean isInt(Object dim, long expected) {
        return dim instanceof Long && (Long) dim == expected;
    }

    private static void require(boolean ok, String message) throws ManifestException {
        if (!ok) {
            throw new ManifestException(message);
        }
    }
}
