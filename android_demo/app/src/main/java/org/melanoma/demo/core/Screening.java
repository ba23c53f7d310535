package org.melanoma.demo.core;

import java.util.Locale;

/** One screening result: the model's logit, P(positive class), its risk band and the timings. */
public final class Screening {
    public final double logit;
    public final double probability;
    public final RiskBands.Band band;
    public final long preprocessNanos;
    public final long inferenceNanos;

    private Screening(
            double logit, double probability, RiskBands.Band band, long preNanos, long infNanos) {
        this.logit = logit;
        this.probability = probability;
        this.band = band;
        this.preprocessNanos = preNanos;
        this.inferenceNanos = infNanos;
    }

    /** Turn the model's logit into a result; a NaN logit (a broken model) is an error. */
    public static Screening of(double logit, RiskBands bands, long preNanos, long infNanos) {
        if (Double.isNaN(logit)) {
            throw new IllegalArgumentException("the model returned NaN instead of a logit");
        }
        double p = RiskBands.sigmoid(logit);
        return new Screening(logit, p, bands.classify(p), preNanos, infNanos);
    }

    /** The lines the app shows, e.g. "P(melanoma) = 0.734 (73.4%)". */
    public String summary(String positiveClass) {
        return String.format(Locale.ROOT, "P(%s) = %.3f (%.1f%%)%n", positiveClass, probability,
                        100.0 * probability)
                + "Risk band: " + band.label.toUpperCase(Locale.ROOT) + " — " + band.describe()
                + String.format(Locale.ROOT, "%nInference: %.1f ms (preprocessing %.0f ms)",
                        inferenceNanos / 1e6, preprocessNanos / 1e6);
    }
}
