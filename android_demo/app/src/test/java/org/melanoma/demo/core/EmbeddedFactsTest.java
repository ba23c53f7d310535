package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

public class EmbeddedFactsTest {
    private static final String ATTRIBUTION = "Trained on HAM10000; non-commercial use only";

    /** What an export of SampleManifest.V6_LICENSED's model embeds (the keys the app reads). */
    private static Map<String, String> facts() {
        Map<String, String> facts = new LinkedHashMap<String, String>();
        facts.put("license", "CC-BY-NC-4.0");
        facts.put("attribution", ATTRIBUTION);
        facts.put("source_checkpoint_sha256", SampleManifest.repeat("3f", 32));
        facts.put("precision", "int8");
        return facts;
    }

    private static Map<String, String> factsWith(String key, String value) {
        Map<String, String> facts = facts();
        if (value == null) {
            facts.remove(key);
        } else {
            facts.put(key, value);
        }
        return facts;
    }

    private static void refused(String manifest, Map<String, String> facts, String expected)
            throws Exception {
        try {
            EmbeddedFacts.check(ManifestParser.parse(manifest), facts);
            fail("accepted facts that disagree: " + facts);
        } catch (ManifestException e) {
            assertEquals("the terms embedded in cnn-executorch-int8.pte disagree with its manifest: "
                    + expected + " (a manifest written for another model beside this file?)",
                    e.getMessage());
        }
    }

    @Test
    public void aFileThatStatesItsManifestsFactsIsAccepted() throws Exception {
        Manifest m = ManifestParser.parse(SampleManifest.V6_LICENSED);
        assertEquals(EmbeddedFacts.AGREE, EmbeddedFacts.check(m, facts()));
    }

    @Test
    public void aFileWithoutFactsIsAcceptedAndSaysSo() throws Exception {
        // exported before 2026-12-07, beside a manifest of any version
        for (String json : new String[] {SampleManifest.JSON, SampleManifest.V6_LICENSED}) {
            Manifest m = ManifestParser.parse(json);
            assertEquals(EmbeddedFacts.NOT_EMBEDDED,
                    EmbeddedFacts.check(m, Collections.<String, String>emptyMap()));
        }
        assertEquals("Terms not embedded in this file (exported by a toolkit from before"
                + " 2026-12-07): as its manifest states.", EmbeddedFacts.NOT_EMBEDDED);
    }

    @Test
    public void anotherLicenceIsRefusedWithBothNamed() throws Exception {
        refused(SampleManifest.V6_LICENSED, factsWith("license", "CC-BY-4.0"),
                "license \"CC-BY-4.0\" in the file, \"CC-BY-NC-4.0\" in the manifest");
    }

    @Test
    public void anotherSourceCheckpointIsRefusedWithBothShortened() throws Exception {
        refused(SampleManifest.V6_LICENSED,
                factsWith("source_checkpoint_sha256", SampleManifest.repeat("9c", 32)),
                "source_checkpoint_sha256 \"9c9c9c9c9c9c...\" in the file, \"3f3f3f3f3f3f...\""
                        + " in the manifest");
    }

    @Test
    public void shasThatShareTheirFirstTwelveCharactersAreShownInFull() throws Exception {
        String other = SampleManifest.repeat("3f", 31) + "00";
        refused(SampleManifest.V6_LICENSED, factsWith("source_checkpoint_sha256", other),
                "source_checkpoint_sha256 \"" + other + "\" in the file, \""
                        + SampleManifest.repeat("3f", 32) + "\" in the manifest");
    }

    @Test
    public void everyFactThatDiffersIsNamed() throws Exception {
        Map<String, String> facts = factsWith("precision", "fp32");
        facts.remove("attribution"); // the file's model states none
        refused(SampleManifest.V6_LICENSED, facts, "attribution none in the file, \""
                + ATTRIBUTION + "\" in the manifest; precision \"fp32\" in the file, \"int8\" in"
                + " the manifest");
    }

    @Test
    public void anAttributionTheManifestDoesNotStateIsADisagreement() throws Exception {
        String noAttribution = SampleManifest.V6_LICENSED.replace(
                "  \"attribution\": \"" + ATTRIBUTION + "\",", "  \"attribution\": null,");
        refused(noAttribution, facts(),
                "attribution \"" + ATTRIBUTION + "\" in the file, none in the manifest");
        Map<String, String> none = factsWith("attribution", null);
        assertEquals(EmbeddedFacts.AGREE,
                EmbeddedFacts.check(ManifestParser.parse(noAttribution), none));
    }

    @Test
    public void aManifestBeforeVersion6BesideAFileThatStatesItsTermsIsRefused() throws Exception {
        // its exporter embedded the terms and wrote version 6: this manifest is not that one's
        refused(SampleManifest.V5, facts(), "license \"CC-BY-NC-4.0\" in the file, none in the"
                + " manifest; attribution \"" + ATTRIBUTION + "\" in the file, none in the manifest");
    }

    @Test
    public void aFileMissingAFactItsExporterAlwaysWritesIsRefused() throws Exception {
        refused(SampleManifest.V6_LICENSED, factsWith("license", null),
                "license none in the file, \"CC-BY-NC-4.0\" in the manifest");
    }

    @Test
    public void theKeysAreTheExportersNames() {
        // melanoma.export.base.LABEL_KEYS; test_embedded_facts.py checks them on a real export
        assertEquals("[license, attribution, source_checkpoint_sha256, precision]",
                EmbeddedFacts.KEYS.toString());
    }
}
