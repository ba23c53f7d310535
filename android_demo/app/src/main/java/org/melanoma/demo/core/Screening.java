package org.melanoma.demo.core;

import java.util.Locale;

/**
 * One screening result: the model's logit, P(positive class), its risk band, the decision at the
 * default threshold and the timings.
 */
public final class Screening {
    /**
     * The threshold `melanoma predict` and `melanoma evaluate` decide at by default, and what a
     * manifest before schema version 4 (which has no default_threshold) was verified at.
     */
    public static final String DEFAULT_THRESHOLD = "youden";
    /** Under every result: what the thresholds were (and were not) validated on. */
    public static final String TRAINING_DOMAIN =
            "Trained on dermatoscope images (HAM10000); never validated on phone photos.";

    public final double logit;
    public final double probability;
    public final RiskBands.Band band;
    public final int bandCount;
    /** The threshold decided at, or null when the manifest has none of that name. */
    public final Manifest.Threshold decisionThreshold;
    /** Decimals the score and thresholds are shown with: enough to tell them apart. */
    public final int digits;
    public final long preprocessNanos;
    public final long inferenceNanos;

    private Screening(double logit, double probability, RiskBands.Band band, int bandCount,
            Manifest.Threshold decisionThreshold, int digits, long preNanos, long infNanos) {
        this.logit = logit;
        this.probability = probability;
        this.band = band;
        this.bandCount = bandCount;
        this.decisionThreshold = decisionThreshold;
        this.digits = digits;
        this.preprocessNanos = preNanos;
        this.inferenceNanos = infNanos;
    }

    /** {@link #of(double, RiskBands, String, long, long)} deciding at youden. */
    public static Screening of(double logit, RiskBands bands, long preNanos, long infNanos) {
        return of(logit, bands, DEFAULT_THRESHOLD, preNanos, infNanos);
    }

    /**
     * Turn the model's logit into a result, deciding at the threshold named {@code decideAt}
     * (the manifest's default); a NaN logit (a broken model) is an error.
     */
    public static Screening of(double logit, RiskBands bands, String decideAt, long preNanos,
            long infNanos) {
        if (Double.isNaN(logit)) {
            throw new IllegalArgumentException("the model returned NaN instead of a logit");
        }
        double p = RiskBands.sigmoid(logit);
        Manifest.Threshold decision = null;
        for (Manifest.Threshold t : bands.thresholds()) {
            if (t.name.equals(decideAt)) {
                decision = t;
            }
        }
        return new Screening(logit, p, bands.classify(p), bands.bands().size(), decision,
                bands.digitsToTell(p), preNanos, infNanos);
    }

    /**
     * The lines the app shows. The score is not a calibrated risk (the README measures how far
     * it is off), so no percentage; bands are numbered, not named "low" or "high", and a score
     * below the threshold is "not flagged", never "not melanoma": the model learned from
     * dermatoscope images, and nothing it says about a phone photo was validated. The band alone
     * can hide the default decision (with youden below sensitivity_0.90 a flagged photo can sit
     * in the middle band), so that decision gets its own line.
     */
    public String summary(String positiveClass) {
        String text = String.format(Locale.ROOT,
                        "Model score for %s: %s (a score, not a probability or a risk)%n",
                        positiveClass, RiskBands.format(probability, digits))
                + String.format(Locale.ROOT, "Score band %d of %d: %s", band.index + 1,
                        bandCount, band.describe(digits));
        if (decisionThreshold != null) {
            boolean positive = probability >= decisionThreshold.probability;
            text += String.format(Locale.ROOT, "%nAt the %s threshold (p >= %s): %s",
                    decisionThreshold.name, RiskBands.format(decisionThreshold.probability, digits),
                    positive ? "flagged as " + positiveClass
                             : "not flagged, which does not rule out " + positiveClass);
        }
        return text + String.format(Locale.ROOT, "%n%s%nInference: %.1f ms (preprocessing %.0f ms)",
                TRAINING_DOMAIN, inferenceNanos / 1e6, preprocessNanos / 1e6);
    }
}
