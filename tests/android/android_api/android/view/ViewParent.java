package android.view;

/** Stand-in for android.view.ViewParent (API 35). */
public interface ViewParent {
    void requestDisallowInterceptTouchEvent(boolean disallowIntercept);
}
