package android.os;

/** Stand-in for android.os.BaseBundle (API 35): Bundle's superclass, where the int[] calls are. */
public class BaseBundle {
    BaseBundle() {}

    public int[] getIntArray(String key) {
        throw new UnsupportedOperationException("stand-in");
    }

    public void putIntArray(String key, int[] value) {}
}
