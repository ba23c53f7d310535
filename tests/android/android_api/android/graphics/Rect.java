package android.graphics;

/** Stand-in for android.graphics.Rect (API 35): a type only, the app passes null. */
public final class Rect {}
