package android.util;

/** Stand-in for android.util.AttributeSet (API 35): the app only passes it on. */
public interface AttributeSet {}
