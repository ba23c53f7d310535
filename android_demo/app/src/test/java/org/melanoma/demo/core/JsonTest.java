package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesEveryValueKind() throws Exception {
        Object parsed = Json.parse(
                " {\"a\": [1, -2.5, 1e-05, 0, true, false, null], \"s\": \"x\\\"\\u00e9\\n\"}\n");
        Map<?, ?> map = (Map<?, ?>) parsed;
        List<?> a = (List<?>) map.get("a");
        assertEquals(Long.valueOf(1), a.get(0));
        assertEquals(Double.valueOf(-2.5), a.get(1));
        assertEquals(Double.valueOf(1e-5), a.get(2));
        assertEquals(Long.valueOf(0), a.get(3));
        assertEquals(Boolean.TRUE, a.get(4));
        assertEquals(Boolean.FALSE, a.get(5));
        assertNull(a.get(6));
        assertEquals("x\"\u00e9\n", map.get("s"));
        assertEquals(Arrays.asList("a", "s"), Arrays.asList(map.keySet().toArray()));
    }

    @Test
    public void numbersRoundLikePython() throws Exception {
        // Python's json writes repr(float); both sides must read back the same double.
        assertEquals(0.00392156862745098, (Double) Json.parse("0.00392156862745098"), 0.0);
        assertEquals(1.0 / 255.0, (Double) Json.parse("0.00392156862745098"), 0.0);
        assertEquals(Long.MIN_VALUE, ((Long) Json.parse("-9223372036854775808")).longValue());
        assertEquals(1e19, (Double) Json.parse("10000000000000000000"), 0.0);
    }

    @Test
    public void rejectsWhatStrictJsonRejects() {
        String[] bad = {
            "", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "01", "1.", ".5", "-", "1e", "+1",
            "NaN", "Infinity", "-Infinity", "{\"a\":1}{}", "\"\t\"", "\"\\x\"", "\"\\u12\"",
            "tru", "nul", "{\"a\" 1}", "{1:2}", "[1 2]", "// c\n1", "\ufeff{}", "{\"a\":1,\"a\":2}",
        };
        for (String text : bad) {
            try {
                Json.parse(text);
                fail("accepted invalid JSON: " + text);
            } catch (JsonException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("line "));
            }
        }
    }

    @Test
    public void errorsNameLineAndColumn() {
        try {
            Json.parse("{\n  \"a\": 1,\n  \"b\": ?\n}");
            fail();
        } catch (JsonException e) {
            assertEquals("unexpected character '?', expected a value (line 3, column 8)",
                    e.getMessage());
        }
    }

    @Test
    public void refusesDeepNesting() {
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            deep.append('[');
        }
        try {
            Json.parse(deep.toString());
            fail();
        } catch (JsonException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("nested deeper than 64"));
        }
    }
}
