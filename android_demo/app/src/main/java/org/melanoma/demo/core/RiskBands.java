package org.melanoma.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Risk bands from the manifest's thresholds.
 *
 * <p>The thresholds are sorted by probability, whatever their names (ties keep manifest order). A
 * probability p falls in band number {@code count(thresholds with probability <= p)}, so n
 * thresholds make n + 1 bands. Each threshold means "decide melanoma when p >= probability", so p
 * exactly at a threshold belongs to the band above it. The exporter's two thresholds, "youden" and
 * "sensitivity_0.90", make the bands low, intermediate and high, and "high" starts at whichever of
 * the two is higher. Which one that is depends on the model: in the default bundled model,
 * reference-supervised, youden (0.519) lies below sensitivity_0.90 (0.605), so "high" starts at
 * 0.605 and p in [0.519, 0.605), which `melanoma predict` decides as melanoma at its default
 * (youden) threshold, is "intermediate". Labels and descriptions come from the count and the
 * threshold names only, so other threshold sets work unchanged.
 */
public final class RiskBands {
    private final List<Manifest.Threshold> sorted;
    private final List<Band> bands;

    public RiskBands(List<Manifest.Threshold> thresholds) {
        if (thresholds.isEmpty()) {
            throw new IllegalArgumentException("need at least one threshold");
        }
        List<Manifest.Threshold> copy = new ArrayList<Manifest.Threshold>(thresholds);
        // Collections.sort is stable: equal probabilities keep their manifest order.
        Collections.sort(copy, new Comparator<Manifest.Threshold>() {
            @Override
            public int compare(Manifest.Threshold a, Manifest.Threshold b) {
                return Double.compare(a.probability, b.probability);
            }
        });
        sorted = Collections.unmodifiableList(copy);
        List<Band> made = new ArrayList<Band>();
        for (int i = 0; i <= copy.size(); i++) {
            Manifest.Threshold lower = i == 0 ? null : copy.get(i - 1);
            Manifest.Threshold upper = i == copy.size() ? null : copy.get(i);
            made.add(new Band(i, label(i, copy.size()), lower, upper));
        }
        bands = Collections.unmodifiableList(made);
    }

    public static RiskBands fromManifest(Manifest manifest) {
        return new RiskBands(manifest.thresholds);
    }

    /** The thresholds, lowest probability first. */
    public List<Manifest.Threshold> thresholds() {
        return sorted;
    }

    public List<Band> bands() {
        return bands;
    }

    /** The band of probability p in [0, 1]. */
    public Band classify(double p) {
        if (Double.isNaN(p) || p < 0.0 || p > 1.0) {
            throw new IllegalArgumentException("probability must be in [0, 1], got " + p);
        }
        int index = 0;
        for (Manifest.Threshold t : sorted) {
            if (t.probability <= p) {
                index++;
            }
        }
        return bands.get(index);
    }

    /** The logistic function, evaluated without overflow for large |logit|. */
    public static double sigmoid(double logit) {
        if (logit >= 0) {
            return 1.0 / (1.0 + Math.exp(-logit));
        }
        double e = Math.exp(logit);
        return e / (1.0 + e);
    }

    /** "low", "intermediate", "high"; with more thresholds "intermediate 1", "intermediate 2". */
    static String label(int index, int thresholdCount) {
        if (index == 0) {
            return "low";
        }
        if (index == thresholdCount) {
            return "high";
        }
        return thresholdCount == 2 ? "intermediate" : "intermediate " + index;
    }

    /** One band: probabilities in [lower.probability, upper.probability). */
    public static final class Band {
        public final int index;
        public final String label;
        public final Manifest.Threshold lower; // null for the lowest band
        public final Manifest.Threshold upper; // null for the highest band

        Band(int index, String label, Manifest.Threshold lower, Manifest.Threshold upper) {
            this.index = index;
            this.label = label;
            this.lower = lower;
            this.upper = upper;
        }

        /** For example "at or above youden (p >= 0.482)". */
        public String describe() {
            return describe(DIGITS);
        }

        /** {@link #describe()} with the thresholds to {@code digits} decimals. */
        public String describe(int digits) {
            if (lower == null) {
                return "below " + upper.name + " (p < " + format(upper.probability, digits) + ")";
            }
            if (upper == null) {
                return "at or above " + lower.name + " (p >= "
                        + format(lower.probability, digits) + ")";
            }
            return "from " + lower.name + " to below " + upper.name + " ("
                    + format(lower.probability, digits) + " <= p < "
                    + format(upper.probability, digits) + ")";
        }

        @Override
        public String toString() {
            return label + ": " + describe();
        }
    }

    /** Decimals a score and the thresholds are shown with, unless they would print alike. */
    public static final int DIGITS = 3;
    /**
     * melanoma.evaluate.digits_to_tell's limit. A score can sit within 1e-10 of a threshold (near
     * p = 0.5 a float32 logit moves p by less than that), and at 9 decimals the two printed alike.
     */
    private static final int MAX_DIGITS = 20;

    /**
     * The fewest decimals, from {@link #DIGITS}, at which {@code p} prints unlike every threshold
     * it is not equal to: at three, a score of 0.5189 below youden 0.51863 printed as "0.519"
     * beside "p < 0.519".
     */
    public int digitsToTell(double p) {
        for (int digits = DIGITS; digits < MAX_DIGITS; digits++) {
            String shown = format(p, digits);
            boolean alike = false;
            for (Manifest.Threshold t : sorted) {
                alike |= t.probability != p && shown.equals(format(t.probability, digits));
            }
            if (!alike) {
                return digits;
            }
        }
        return MAX_DIGITS;
    }

    static String format(double p, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f", p);
    }
}
