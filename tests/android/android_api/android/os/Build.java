package android.os;

/** Stand-in for android.os.Build (API 35). */
public class Build {
    /** Stand-in for Build.VERSION. */
    public static class VERSION {
        /** Read from a system property on a device: not a compile-time constant. */
        public static final int SDK_INT = Integer.getInteger("ro.build.version.sdk", 0);
    }

    /** Stand-in for Build.VERSION_CODES. */
    public static class VERSION_CODES {
        public static final int VANILLA_ICE_CREAM = 35;
    }
}
