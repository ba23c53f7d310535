package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

public class RiskBandsTest {
    private static final Manifest.Threshold YOUDEN = new Manifest.Threshold("youden", 0.48, .8, .8);
    private static final Manifest.Threshold SENS90 =
            new Manifest.Threshold("sensitivity_0.90", 0.26, .9, .6);

    @Test
    public void youdenBelowSensitivityMakesHighStartAtSensitivity() {
        // The default bundled model, reference-supervised (its metadata.json): youden is the LOWER.
        Manifest.Threshold youden = new Manifest.Threshold("youden", 0.518627092899197, .93, .68);
        Manifest.Threshold sens90 =
                new Manifest.Threshold("sensitivity_0.90", 0.6048730611801147, .9, .75);
        RiskBands bands = new RiskBands(Arrays.asList(youden, sens90)); // the exporter's order
        assertEquals(Arrays.asList(youden, sens90), bands.thresholds());
        assertBand(bands, Math.nextDown(0.518627092899197), 0, "low");
        // At and above youden `melanoma predict` says melanoma; the band is still intermediate.
        assertBand(bands, 0.518627092899197, 1, "intermediate");
        assertBand(bands, 0.6, 1, "intermediate");
        assertBand(bands, 0.6048730611801147, 2, "high");
        assertEquals("below youden (p < 0.519)", bands.bands().get(0).describe());
        assertEquals("from youden to below sensitivity_0.90 (0.519 <= p < 0.605)",
                bands.bands().get(1).describe());
        assertEquals("at or above sensitivity_0.90 (p >= 0.605)", bands.bands().get(2).describe());
        // So the summary says the default decision too: melanoma, in the intermediate band.
        String text = Screening.of(Math.log(0.55 / 0.45), bands, 0, 0).summary("melanoma");
        assertTrue(text, text.contains("Score band 2 of 3: from youden to below"));
        assertTrue(text, text.contains("At the youden threshold (p >= 0.519): flagged as melanoma"));
        text = Screening.of(Math.log(0.5 / 0.5), bands, 0, 0).summary("melanoma");
        assertTrue(text, text.contains("At the youden threshold (p >= 0.519): not flagged, "
                + "which does not rule out melanoma"));
        assertFalse(text, text.contains("not melanoma"));
        assertTrue(text, text.contains("Score band 1 of 3: below youden") && !text.contains("LOW"));
        // A manifest whose default_threshold is sensitivity_0.90 decides there instead.
        text = Screening.of(Math.log(0.55 / 0.45), bands, "sensitivity_0.90", 0, 0)
                .summary("melanoma");
        assertTrue(text, text.contains("At the sensitivity_0.90 threshold (p >= 0.605): not "
                + "flagged"));
    }

    @Test
    public void aScoreNextToAThresholdIsShownWithTheDigitsToTellThemApart() {
        // At three decimals a score of 0.5186 below youden 0.518627 read "0.519 ... p < 0.519".
        Manifest.Threshold youden = new Manifest.Threshold("youden", 0.518627092899197, .93, .68);
        Manifest.Threshold sens90 =
                new Manifest.Threshold("sensitivity_0.90", 0.6048730611801147, .9, .75);
        RiskBands bands = new RiskBands(Arrays.asList(youden, sens90));
        String text = Screening.of(Math.log(0.5186 / 0.4814), bands, 0, 0).summary("melanoma");
        assertTrue(text, text.contains("Model score for melanoma: 0.51860 (a score"));
        assertTrue(text, text.contains("Score band 1 of 3: below youden (p < 0.51863)"));
        assertTrue(text, text.contains("At the youden threshold (p >= 0.51863): not flagged"));
        assertEquals(3, bands.digitsToTell(0.3));
        assertEquals(3, bands.digitsToTell(0.518627092899197)); // equal is no clash: p >= it
        text = Screening.of(Math.log(0.3 / 0.7), bands, 0, 0).summary("melanoma");
        assertTrue(text, text.contains("Model score for melanoma: 0.300 (a score"));
    }

    @Test
    public void aScoreWithinABillionthOfAThresholdStillPrintsApartFromIt() {
        // A float32 logit near 0 moves p by ~1e-10: this one's p is 2.5e-11 below the threshold,
        // and at the old limit of 9 decimals both printed as 0.501182162 beside "not flagged".
        Manifest.Threshold youden = new Manifest.Threshold("youden", 0.5011821624700257, .9, .6);
        RiskBands bands = new RiskBands(Collections.singletonList(youden));
        float logit = 0.004728658590465784f;
        String text = Screening.of(logit, bands, 0, 0).summary("melanoma");
        assertTrue(text, text.contains("Model score for melanoma: 0.5011821624 (a score"));
        assertTrue(text, text.contains("below youden (p < 0.5011821625)"));
        assertTrue(text, text.contains("(p >= 0.5011821625): not flagged"));
    }

    @Test
    public void sensitivityBelowYoudenMakesHighStartAtYouden() {
        RiskBands bands = new RiskBands(Arrays.asList(YOUDEN, SENS90)); // unsorted on purpose
        assertEquals(Arrays.asList(SENS90, YOUDEN), bands.thresholds());
        assertBand(bands, 0.0, 0, "low");
        assertBand(bands, Math.nextDown(0.26), 0, "low");
        assertBand(bands, 0.26, 1, "intermediate"); // at a threshold: the band above
        assertBand(bands, 0.4, 1, "intermediate");
        assertBand(bands, Math.nextDown(0.48), 1, "intermediate");
        assertBand(bands, 0.48, 2, "high");
        assertBand(bands, 1.0, 2, "high");
        assertEquals("below sensitivity_0.90 (p < 0.260)", bands.bands().get(0).describe());
        assertEquals("from sensitivity_0.90 to below youden (0.260 <= p < 0.480)",
                bands.bands().get(1).describe());
        assertEquals("at or above youden (p >= 0.480)", bands.bands().get(2).describe());
    }

    @Test
    public void otherThresholdSetsWork() {
        RiskBands one = new RiskBands(Collections.singletonList(YOUDEN));
        assertEquals(2, one.bands().size());
        assertBand(one, 0.1, 0, "low");
        assertBand(one, 0.9, 1, "high");

        List<Manifest.Threshold> three = Arrays.asList(
                new Manifest.Threshold("a", 0.7, 0, 0), new Manifest.Threshold("b", 0.1, 0, 0),
                new Manifest.Threshold("c", 0.3, 0, 0));
        RiskBands bands = new RiskBands(three);
        assertBand(bands, 0.05, 0, "low");
        assertBand(bands, 0.2, 1, "intermediate 1");
        assertBand(bands, 0.5, 2, "intermediate 2");
        assertBand(bands, 0.7, 3, "high");
    }

    @Test
    public void equalThresholdsLeaveAnEmptyMiddleBand() {
        RiskBands bands = new RiskBands(Arrays.asList(
                new Manifest.Threshold("x", 0.5, 0, 0), new Manifest.Threshold("y", 0.5, 0, 0)));
        assertBand(bands, Math.nextDown(0.5), 0, "low");
        assertBand(bands, 0.5, 2, "high");
        assertEquals("x", bands.thresholds().get(0).name); // stable: manifest order kept
    }

    @Test
    public void probabilitiesOutsideZeroToOneAreRefused() {
        RiskBands bands = new RiskBands(Collections.singletonList(YOUDEN));
        for (double p : new double[] {-0.01, 1.01, Double.NaN}) {
            try {
                bands.classify(p);
                fail("accepted " + p);
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage().startsWith("probability must be in [0, 1]"));
            }
        }
    }

    @Test
    public void sigmoidIsStableAtTheExtremes() {
        assertEquals(0.5, RiskBands.sigmoid(0), 0);
        assertEquals(1 / (1 + Math.exp(-2.5)), RiskBands.sigmoid(2.5), 1e-15);
        assertEquals(1.0, RiskBands.sigmoid(800), 0);
        assertEquals(0.0, RiskBands.sigmoid(-800), 0);
        assertEquals(1.0, RiskBands.sigmoid(Double.POSITIVE_INFINITY), 0);
        assertEquals(0.0, RiskBands.sigmoid(Double.NEGATIVE_INFINITY), 0);
    }

    @Test
    public void screeningSummarySaysProbabilityBandAndTime() {
        RiskBands bands = new RiskBands(Arrays.asList(YOUDEN, SENS90));
        Screening s = Screening.of(1.0, bands, 45_000_000L, 2_100_000L);
        assertEquals(2, s.band.index);
        String text = s.summary("melanoma");
        assertTrue(text, text.startsWith(
                "Model score for melanoma: 0.731 (a score, not a probability or a risk)"));
        assertTrue(text, text.contains("Score band 3 of 3: at or above youden (p >= 0.480)"));
        assertTrue(text, text.contains("At the youden threshold (p >= 0.480): flagged as melanoma"));
        assertTrue(text, text.contains(Screening.TRAINING_DOMAIN));
        assertFalse(text, text.contains("isk band"));
        assertTrue(text, text.contains("Inference: 2.1 ms (preprocessing 45 ms)"));
        try {
            Screening.of(Double.NaN, bands, 0, 0);
            fail("accepted a NaN logit");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("NaN"));
        }
    }

    @Test
    public void aScoreExactlyAtTheThresholdIsFlaggedAsPredictFlagsIt() {
        // p >= threshold, as in Python: logit 0 is p 0.5 exactly.
        Manifest.Threshold half = new Manifest.Threshold("youden", 0.5, .8, .8);
        RiskBands bands = new RiskBands(Collections.singletonList(half));
        String at = Screening.of(0.0, bands, 0, 0).summary("melanoma");
        assertTrue(at, at.contains("At the youden threshold (p >= 0.500): flagged as melanoma"));
        String below = Screening.of(-1e-9, bands, 0, 0).summary("melanoma");
        assertTrue(below, below.contains(": not flagged, which does not rule out melanoma"));
    }

    private static void assertBand(RiskBands bands, double p, int index, String label) {
        RiskBands.Band band = bands.classify(p);
        assertEquals("p=" + p, index, band.index);
        assertEquals("p=" + p, label, band.label);
    }
}
