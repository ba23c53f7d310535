package android.view;

/** Stand-in for android.view.Window (API 35): the app only passes it on. */
public abstract class Window {}
