package androidx.lifecycle;

/** Stand-in for androidx.lifecycle.ViewModel: what ModelHolder overrides. */
public abstract class ViewModel {
    protected void onCleared() {}
}
