package org.melanoma.demo.core;

import java.util.Locale;

/**
 * One screening result: the model's logit, P(positive class), its risk band, the decision at the
 * default threshold and the timings.
 */
public final class Screening {
    /** The threshold `melanoma predict` and `melanoma evaluate` decide at by default. */
    public static final String DEFAULT_THRESHOLD = "youden";

    public final double logit;
    public final double probability;
    public final RiskBands.Band band;
    /** The default threshold, or null when the manifest has none of that name. */
    public final Manifest.Threshold decisionThreshold;
    public final long preprocessNanos;
    public final long inferenceNanos;

    private Screening(double logit, double probability, RiskBands.Band band,
            Manifest.Threshold decisionThreshold, long preNanos, long infNanos) {
        this.logit = logit;
        this.probability = probability;
        this.band = band;
        this.decisionThreshold = decisionThreshold;
        this.preprocessNanos = preNanos;
        this.inferenceNanos = infNanos;
    }

    /** Turn the model's logit into a result; a NaN logit (a broken model) is an error. */
    public static Screening of(double logit, RiskBands bands, long preNanos, long infNanos) {
        if (Double.isNaN(logit)) {
            throw new IllegalArgumentException("the model returned NaN instead of a logit");
        }
        double p = RiskBands.sigmoid(logit);
        Manifest.Threshold decision = null;
        for (Manifest.Threshold t : bands.thresholds()) {
            if (t.name.equals(DEFAULT_THRESHOLD)) {
                decision = t;
            }
        }
        return new Screening(logit, p, bands.classify(p), decision, preNanos, infNanos);
    }

    /**
     * The lines the app shows. The score is not a calibrated risk (the README measures how far
     * it is off), so no percentage; and the band alone can hide the default decision: with
     * youden below sensitivity_0.90, a photo decided positive can sit in the middle band.
     */
    public String summary(String positiveClass) {
        String text = String.format(Locale.ROOT, "P(%s) = %.3f (a model score, not a risk)%n",
                        positiveClass, probability)
                + "Risk band: " + band.label.toUpperCase(Locale.ROOT) + " — " + band.describe();
        if (decisionThreshold != null) {
            boolean positive = probability >= decisionThreshold.probability;
            text += String.format(Locale.ROOT, "%nDecision at %s (p >= %.3f): %s",
                    decisionThreshold.name, decisionThreshold.probability,
                    positive ? positiveClass : "not " + positiveClass);
        }
        return text + String.format(Locale.ROOT, "%nInference: %.1f ms (preprocessing %.0f ms)",
                inferenceNanos / 1e6, preprocessNanos / 1e6);
    }
}
